"""The pipeline's stages: event loops around the pure domain, over either bus."""
