"""Runtimes: where claire's Redis, PostgreSQL and engine run (local processes or Docker)."""
