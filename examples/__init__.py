"""Examples that run from a fresh clone, e.g. `claire papertest start --strategy
examples.strategies.ema_cross:EmaCross`."""
