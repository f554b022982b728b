"""What an engine process runs: one run's whole pipeline, its stages, resuming it from the
database, and the engine container's serve loop."""
