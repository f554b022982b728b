"""Market data sources: live MEXC, recorded replays and a seeded synthetic market."""
