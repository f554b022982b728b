"""`claire inject`: edge cases published into a dedicated engine, outcomes checked."""
