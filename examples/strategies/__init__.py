"""Example strategies, each with its parameters and a test (see each module's note)."""
