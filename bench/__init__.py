"""Benchmarks: each figure measured beside its raw baseline in the same run."""
