"""Build the live MEXC source from settings (endpoints, staleness limit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from engine.marketdata.live import LiveOptions, MexcLiveSource
from engine.marketdata.mexc import MexcRest, MexcWebsocket
from engine.settings import Settings


def live_source(
    settings: Settings, symbols: Sequence[str], *, warmup: timedelta = timedelta(0)
) -> MexcLiveSource:
    """Return a live source for `symbols` on the endpoints the settings name; its start-up
    history covers the strategy's `warmup` (at least the default 2 hours)."""
    rest = MexcRest(settings.mexc.rest_url)
    websocket = MexcWebsocket(settings.mexc.ws_url, list(symbols))
    options = LiveOptions(stale_after=timedelta(seconds=settings.market.stale_after_seconds))
    options = replace(options, history=max(options.history, warmup))
    return MexcLiveSource(symbols, rest, websocket, options)
