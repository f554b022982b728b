"""A local stand-in for MEXC's spot REST API and protobuf websocket, for tests."""

from tests.mexc_standin.server import MexcStandIn

__all__ = ["MexcStandIn"]
