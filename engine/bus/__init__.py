"""The event bus: Redis Streams with consumer groups."""
