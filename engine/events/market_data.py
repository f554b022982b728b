"""Market data events: trades, best bid/ask quotes and candles, all on `market_data`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from engine.events.envelope import EventEnvelope
from engine.events.fields import (
    Identifier,
    NonNegativeDecimal,
    PositiveDecimal,
    SideField,
    Symbol,
    Text,
    UtcDatetime,
    rule_error,
)

CandleInterval = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
#: How long a candle of each interval is.
INTERVAL_LENGTHS: dict[CandleInterval, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
#: Why market data is missing for a while: the feed's connection dropped, the exchange's
#: candles had holes, claire itself was down, or nothing arrived for too long.
#: Market data whose `source` ends with one of these is history (start-up warm-up, or candles
#: back-filled after a gap): stages learn from it, but the strategy's signals on it are dropped,
#: since an order can only be filled at the market as it is now.
WARMUP_SUFFIXES = (".history", ".backfill")


def is_warmup(source: str) -> bool:
    """Tell whether events from `source` are history that must not trigger trades."""
    return source.endswith(WARMUP_SUFFIXES)


#: A market event of any kind.
R = TypeVar("R", bound=EventEnvelope)


def as_warmup(item: R) -> R:
    """Return market event `item` marked as history (learned from, never traded on)."""
    if is_warmup(item.source):
        return item
    return item.model_copy(update={"source": f"{item.source}.history"})


def candle_id(source: str, symbol: str, opened: datetime | str) -> str:
    """The id of `source`'s candle of `symbol` that opened at `opened` (or at the minute
    already written `%Y%m%dT%H%M`): the same whichever way the candle arrives."""
    minute = opened if isinstance(opened, str) else f"{opened:%Y%m%dT%H%M}"
    return f"candle-{source}-{symbol}-{minute}"


def recorded_tick_id(
    kind: Literal["trade", "quote"], source: str, symbol: str, ms: int, row: int
) -> str:
    """The id of a trade or quote read from a recording: its time (epoch ms) and its row."""
    return f"{kind}-{source}-{symbol}-{ms}-{row}"


GapCause = Literal["disconnect", "missing_candles", "downtime", "stale", "planned_reconnect"]


class TradeTick(EventEnvelope):
    """A trade printed on the exchange; `side` is the aggressor's side."""

    type: Literal["trade_tick"] = "trade_tick"
    symbol: Symbol
    price: PositiveDecimal
    quantity: PositiveDecimal
    side: SideField
    trade_id: Identifier | None = None


class QuoteTick(EventEnvelope):
    """The best bid and ask of a symbol's order book."""

    type: Literal["quote_tick"] = "quote_tick"
    symbol: Symbol
    bid_price: PositiveDecimal
    bid_quantity: PositiveDecimal
    ask_price: PositiveDecimal
    ask_quantity: PositiveDecimal

    @field_validator("ask_price")
    @classmethod
    def _ask_not_below_bid(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        bid = info.data.get("bid_price")
        if bid is not None and value < bid:
            raise rule_error(f"must not be below bid_price ({bid}): the quote is crossed")
        return value

    @property
    def mid_price(self) -> Decimal:
        """Return the price halfway between bid and ask."""
        return (self.bid_price + self.ask_price) / 2

    @property
    def spread(self) -> Decimal:
        """Return ask minus bid."""
        return self.ask_price - self.bid_price


class Candle(EventEnvelope):
    """An OHLCV bar; `ts_event` is when it closed. Volume is in base, quote volume in quote."""

    type: Literal["candle"] = "candle"
    symbol: Symbol
    interval: CandleInterval = "1m"
    open_time: UtcDatetime
    close_time: UtcDatetime
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal
    quote_volume: NonNegativeDecimal

    @field_validator("close_time")
    @classmethod
    def _closes_after_opening(cls, value: datetime, info: ValidationInfo) -> datetime:
        opened = info.data.get("open_time")
        if opened is not None and value <= opened:
            raise rule_error(f"must be after open_time ({opened.isoformat()})")
        return value

    @field_validator("high")
    @classmethod
    def _high_not_below_open(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        opened = info.data.get("open")
        if opened is not None and value < opened:
            raise rule_error(f"must not be below open ({opened})")
        return value

    @field_validator("low")
    @classmethod
    def _low_not_above_open_or_high(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        for name in ("open", "high"):
            bound = info.data.get(name)
            if bound is not None and value > bound:
                raise rule_error(f"must not be above {name} ({bound})")
        return value

    @field_validator("close")
    @classmethod
    def _close_within_range(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        high, low = info.data.get("high"), info.data.get("low")
        if high is not None and value > high:
            raise rule_error(f"must not be above high ({high})")
        if low is not None and value < low:
            raise rule_error(f"must not be below low ({low})")
        return value


class MarketDataGap(EventEnvelope):
    """Market data for `symbol` was missing from `gap_start` to `gap_end`.

    `backfilled` candles were recovered afterwards (from REST); `missing` is how many
    1-minute candles the gap spans. A report shows these, so a dead feed is never silent.
    """

    type: Literal["market_gap"] = "market_gap"
    symbol: Symbol
    cause: GapCause
    gap_start: UtcDatetime
    gap_end: UtcDatetime
    missing: int = Field(default=0, ge=0, strict=True)
    backfilled: int = Field(default=0, ge=0, strict=True)
    detail: Text | None = None

    @field_validator("gap_end")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        started = info.data.get("gap_start")
        if started is not None and value < started:
            raise rule_error(f"must not be before gap_start ({started.isoformat()})")
        return value


FeedEndReason = Literal["planned_end", "exhausted", "stopped", "halted"]
#: The source of a run's `FeedEnded`: the feed itself.
FEED_SOURCE = "engine.feed"


class FeedEnded(EventEnvelope):
    """The run's market feed ended at `ts_event`: no market data follows in this run.

    The portfolio stage answers with the run's final snapshot, wherever it runs (in the
    engine's process, or in a container of its own).
    """

    type: Literal["feed_end"] = "feed_end"
    reason: FeedEndReason
