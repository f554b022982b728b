"""The event contracts of the engine: every message on the bus, defined once.

Import from here: `from engine.events import Event, OrderSubmitted, decode_event`.
"""

from engine.events.alerts import AlertLevel, AlertRaised, normalize_alert_level
from engine.events.codec import (
    EVENT_CLASS_FOR_TYPE,
    EVENT_CLASSES,
    EVENT_TYPES,
    Event,
    MarketDataEvent,
    decode_event,
    describe_validation_errors,
    encode_event,
)
from engine.events.envelope import SCHEMA_VERSION, EventEnvelope, new_event_id
from engine.events.market_data import (
    Candle,
    CandleInterval,
    FeedEnded,
    GapCause,
    MarketDataGap,
    QuoteTick,
    TradeTick,
)
from engine.events.portfolio import PortfolioSnapshotTaken, PositionSnapshot
from engine.events.trading import (
    OrderResultReported,
    OrderSubmitted,
    RiskDecided,
    SignalGenerated,
)

__all__ = [
    "EVENT_CLASSES",
    "EVENT_CLASS_FOR_TYPE",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AlertLevel",
    "AlertRaised",
    "Candle",
    "CandleInterval",
    "Event",
    "EventEnvelope",
    "FeedEnded",
    "GapCause",
    "MarketDataEvent",
    "MarketDataGap",
    "OrderResultReported",
    "OrderSubmitted",
    "PortfolioSnapshotTaken",
    "PositionSnapshot",
    "QuoteTick",
    "RiskDecided",
    "SignalGenerated",
    "TradeTick",
    "decode_event",
    "describe_validation_errors",
    "encode_event",
    "new_event_id",
    "normalize_alert_level",
]
