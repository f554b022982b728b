"""The names of the bus's streams, and which stream each event type travels on."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Stream(StrEnum):
    """One Redis stream of the pipeline; the key is `<namespace>:<value>`."""

    MARKET_DATA = "market_data"
    SIGNALS = "signals"
    ORDERS = "orders"
    ORDER_RESULTS = "order_results"
    PORTFOLIO_SNAPSHOTS = "portfolio_snapshots"
    ALERTS = "alerts"
    RISK_DECISIONS = "risk_decisions"
    DEAD_LETTERS = "dead_letters"


#: Event `type` -> the stream it is published on. `tests/unit/test_events.py` checks that
#: every event type of `engine.events` has exactly one entry here.
STREAM_FOR_EVENT: Final[Mapping[str, Stream]] = MappingProxyType(
    {
        "trade_tick": Stream.MARKET_DATA,
        "quote_tick": Stream.MARKET_DATA,
        "candle": Stream.MARKET_DATA,
        "market_gap": Stream.MARKET_DATA,
        "feed_end": Stream.MARKET_DATA,
        "signal": Stream.SIGNALS,
        "risk_decision": Stream.RISK_DECISIONS,
        "order": Stream.ORDERS,
        "order_result": Stream.ORDER_RESULTS,
        "portfolio_snapshot": Stream.PORTFOLIO_SNAPSHOTS,
        "alert": Stream.ALERTS,
    }
)


def stream_key(namespace: str, stream: Stream) -> str:
    """Return the Redis key of `stream` under `namespace`, e.g. `claire:market_data`."""
    return f"{namespace}:{stream}"


def stream_for(event_type: str) -> Stream:
    """Return the stream that events of `event_type` go on; raise KeyError for unknown types."""
    try:
        return STREAM_FOR_EVENT[event_type]
    except KeyError:
        known = ", ".join(STREAM_FOR_EVENT)
        raise KeyError(f"no stream for event type {event_type!r} (known: {known})") from None
