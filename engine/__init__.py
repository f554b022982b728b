"""The Claire de Binare trading engine: pure domain, services, adapters, settings."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("claire-de-binare")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
