"""MEXC's REST payload layouts, as the stand-in serves them."""

from __future__ import annotations

from typing import Any

from engine.events import Candle
from engine.events.fields import decimal_text
from engine.marketdata.mexc.convert import to_milliseconds


def symbol_entry(
    symbol: str,
    status: str,
    *,
    quote_asset: str,
    maker_commission: str,
    taker_commission: str,
    base_size_precision: str,
    quote_amount_precision: str,
) -> dict[str, Any]:
    """Return one element of exchangeInfo's `symbols`, in MEXC's layout."""
    base = symbol.removesuffix(quote_asset) if symbol.endswith(quote_asset) else symbol[:-4]
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "quoteAmountPrecision": quote_amount_precision,
        "baseSizePrecision": base_size_precision,
        "permissions": ["SPOT"],
        "filters": [],
        "maxQuoteAmount": "2000000",
        "makerCommission": maker_commission,
        "takerCommission": taker_commission,
        "fullName": base,
        "tradeSideType": "1",
    }


def kline_row(candle: Candle) -> list[Any]:
    """Return a candle as a `/api/v3/klines` row: times in ms, numbers as strings."""
    return [
        to_milliseconds(candle.open_time),
        decimal_text(candle.open),
        decimal_text(candle.high),
        decimal_text(candle.low),
        decimal_text(candle.close),
        decimal_text(candle.volume),
        to_milliseconds(candle.close_time) - 1,  # MEXC: one ms before the next open
        decimal_text(candle.quote_volume),
    ]
