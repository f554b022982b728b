"""MEXC spot: the protobuf push messages, their conversion to events, REST and websocket.

Import from here: `from engine.marketdata.mexc import MexcRest, MexcWebsocket`.
"""

from engine.marketdata.mexc.convert import (
    CandleAssembler,
    QuoteKeeper,
    candle_event_id,
    decode_frame,
    frame_events,
    kline_candle,
    quote_tick,
    rest_candle,
    trade_event_id,
    trade_ticks,
)
from engine.marketdata.mexc.errors import (
    ExchangeBannedError,
    ExchangeForbiddenError,
    ExchangeRequestError,
    ExchangeUnavailableError,
    SubscriptionRefusedError,
    UnknownSymbolError,
)
from engine.marketdata.mexc.rest import MexcRest, SymbolInfo, WeightLimiter
from engine.marketdata.mexc.websocket import (
    ConnectionChange,
    MarketItem,
    MexcWebsocket,
    SubscriptionRefused,
    channel_names,
    parse_ack,
    plan_connections,
)

__all__ = [
    "CandleAssembler",
    "ConnectionChange",
    "ExchangeBannedError",
    "ExchangeForbiddenError",
    "ExchangeRequestError",
    "ExchangeUnavailableError",
    "MarketItem",
    "MexcRest",
    "MexcWebsocket",
    "QuoteKeeper",
    "SubscriptionRefused",
    "SubscriptionRefusedError",
    "SymbolInfo",
    "UnknownSymbolError",
    "WeightLimiter",
    "candle_event_id",
    "channel_names",
    "decode_frame",
    "frame_events",
    "kline_candle",
    "parse_ack",
    "plan_connections",
    "quote_tick",
    "rest_candle",
    "trade_event_id",
    "trade_ticks",
]
