"""Papertests: registering a run, running its engine in the background, reading its results."""
