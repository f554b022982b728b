"""The Claire de Binare trading engine: pure domain, services, adapters, settings."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`engine.__version__`, read from the installed metadata only when asked (it is slow)."""
    if name != "__version__":
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("claire-de-binare")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0+checkout"
