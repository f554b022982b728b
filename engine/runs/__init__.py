"""Papertests as records: the registry (`runs`), their control state, where their engines
run, and the application service every command calls (start, stop, resume)."""
