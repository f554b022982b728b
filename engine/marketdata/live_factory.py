"""Build the live MEXC source from settings (endpoints, staleness limit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from engine.marketdata.live import LiveOptions, MexcLiveSource
from engine.marketdata.mexc import MexcRest, MexcWebsocket
from engine.settings import Settings


def live_source(settings: Settings, symbols: Sequence[str]) -> MexcLiveSource:
    """Return a live source for `symbols` on the endpoints the settings name."""
    rest = MexcRest(settings.mexc.rest_url)
    websocket = MexcWebsocket(settings.mexc.ws_url, list(symbols))
    options = LiveOptions(stale_after=timedelta(seconds=settings.market.stale_after_seconds))
    return MexcLiveSource(symbols, rest, websocket, options)
