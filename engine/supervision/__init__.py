"""The local runtime's supervisor: it restarts claire's dead servers and a crashed engine,
and records every outage (see `engine.supervision.daemon`)."""
