"""The event contracts: validation, the JSON codec, and decoding of anything at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.errors import EventDecodeError
from engine.events import (
    EVENT_CLASS_FOR_TYPE,
    EVENT_TYPES,
    SCHEMA_VERSION,
    AlertLevel,
    AlertRaised,
    Candle,
    Event,
    OrderResultReported,
    OrderSubmitted,
    PortfolioSnapshotTaken,
    PositionSnapshot,
    QuoteTick,
    RiskDecided,
    SignalGenerated,
    TradeTick,
    decode_event,
    encode_event,
)
from engine.events.orders import OrderSide, OrderStatus, OrderType
from engine.storage import schema
from engine.streams import STREAM_FOR_EVENT, Stream, stream_for, stream_key

T0 = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
ENVELOPE: dict[str, Any] = {"ts_event": T0, "ts_init": T0, "source": "synthetic", "run_id": "r1"}

#: One valid set of fields per event type; tests override what they exercise.
VALID: dict[str, dict[str, Any]] = {
    "trade_tick": {"symbol": "BTCUSDT", "price": "97000.5", "quantity": "0.01", "side": "buy"},
    "quote_tick": {
        "symbol": "BTCUSDT",
        "bid_price": "97000",
        "bid_quantity": "1.5",
        "ask_price": "97000.1",
        "ask_quantity": "0.2",
    },
    "candle": {
        "symbol": "ETHUSDT",
        "open_time": T0 - timedelta(minutes=1),
        "close_time": T0,
        "open": "3000",
        "high": "3010",
        "low": "2990",
        "close": "3005",
        "volume": "12.5",
        "quote_volume": "37500",
    },
    "market_gap": {
        "symbol": "BTCUSDT",
        "cause": "disconnect",
        "gap_start": T0 - timedelta(minutes=3),
        "gap_end": T0,
        "missing": 3,
        "backfilled": 3,
        "detail": "websocket closed: 1006",
    },
    "feed_end": {"reason": "planned_end"},
    "signal": {
        "symbol": "BTCUSDT",
        "side": "buy",
        "strategy": "momentum",
        "confidence": "0.8",
        "reference_price": "97000",
        "reason": "+1.2% in 5m on 3x volume",
    },
    "risk_decision": {
        "signal_id": "s1",
        "approved": True,
        "reason_code": "approved",
        "order_id": "o1",
    },
    "order": {
        "order_id": "o1",
        "signal_id": "s1",
        "symbol": "BTCUSDT",
        "side": "buy",
        "order_type": "market",
        "quantity": "0.05",
    },
    "order_result": {
        "order_id": "o1",
        "symbol": "BTCUSDT",
        "side": "buy",
        "order_type": "market",
        "status": "filled",
        "quantity": "0.05",
        "filled_quantity": "0.05",
        "execution_price": "97010.25",
        "reference_price": "97000",
        "slippage_bps": "1.057",
        "fee": "2.425256",
        "fee_currency": "USDT",
        "trade_id": "t1",
    },
    "portfolio_snapshot": {
        "cash": "95000",
        "equity": "99990.5",
        "positions_value": "4990.5",
        "realized_pnl": "-12.5",
        "unrealized_pnl": "3",
        "exposure": "4990.5",
        "exposure_pct": "0.0499",
        "daily_drawdown": "0.0001",
        "max_drawdown": "0.002",
        "positions": [{"symbol": "BTCUSDT", "quantity": "0.05", "average_price": "97000"}],
    },
    "alert": {"level": "warning", "code": "market_data_stale", "message": "no trade for 60 s"},
}


def make(event_type: str, **overrides: Any) -> Event:
    """Build a valid event of `event_type` through the decoder, with `overrides` applied."""
    return decode_event({"type": event_type, **ENVELOPE, **VALID[event_type], **overrides})


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    return caught.value.problems


def problems_for(event_type: str, **overrides: Any) -> list[str]:
    fields = {"type": event_type, **ENVELOPE, **VALID[event_type], **overrides}
    return problems_of({key: value for key, value in fields.items() if value is not ...})


# --- every event type ---------------------------------------------------------------------


def test_every_event_type_has_a_valid_example_a_stream_and_a_class() -> None:
    assert set(VALID) == set(EVENT_TYPES) == set(STREAM_FOR_EVENT) == set(EVENT_CLASS_FOR_TYPE)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_round_trip_when_valid_event_then_equal(event_type: str) -> None:
    event = make(event_type)
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert type(decoded) is EVENT_CLASS_FOR_TYPE[event_type]
    assert encode_event(decoded) == encode_event(event)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_decode_from_text_bytes_and_mapping_agree(event_type: str) -> None:
    event = make(event_type)
    raw = encode_event(event)
    assert decode_event(raw.decode()) == decode_event(raw) == decode_event(json.loads(raw))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_events_are_frozen(event_type: str) -> None:
    event = make(event_type)
    with pytest.raises(ValidationError):
        event.source = "other"  # type: ignore[misc]


def test_encode_is_compact_json_with_type_and_envelope() -> None:
    raw = encode_event(make("trade_tick"))
    assert b": " not in raw
    assert b", " not in raw
    body = json.loads(raw)
    assert body["type"] == "trade_tick"
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["ts_event"] == "2025-11-23T12:00:00Z"
    assert len(body["event_id"]) == 32


def test_encode_writes_money_as_strings() -> None:
    body = json.loads(encode_event(make("order_result")))
    for name in ("quantity", "filled_quantity", "execution_price", "fee", "slippage_bps"):
        assert isinstance(body[name], str), name
    assert body["execution_price"] == "97010.25"
    snapshot = json.loads(encode_event(make("portfolio_snapshot")))
    assert snapshot["realized_pnl"] == "-12.5"
    assert snapshot["positions"][0]["average_price"] == "97000"


def test_decimal_precision_survives_the_round_trip() -> None:
    event = make("trade_tick", price="0.000000012345678901")
    raw = encode_event(event)
    assert b'"price":"0.000000012345678901"' in raw
    decoded = decode_event(raw)
    assert isinstance(decoded, TradeTick)
    assert decoded.price == Decimal("0.000000012345678901")


def test_encode_writes_decimals_in_fixed_point() -> None:
    event = make("trade_tick", price=Decimal("1E-7"), quantity=Decimal("1.5E+3"))
    body = json.loads(encode_event(event))
    assert (body["price"], body["quantity"]) == ("0.0000001", "1500")


def test_decode_when_json_numbers_then_read_as_exact_decimals() -> None:
    raw = encode_event(make("trade_tick")).replace(b'"97000.5"', b"0.1")
    decoded = decode_event(raw)
    assert isinstance(decoded, TradeTick)
    assert decoded.price == Decimal("0.1")


def test_event_id_defaults_to_a_fresh_uuid_hex() -> None:
    first = TradeTick(ts_event=T0, source="mexc", **VALID["trade_tick"])
    second = TradeTick(ts_event=T0, source="mexc", **VALID["trade_tick"])
    assert first.event_id != second.event_id
    assert len(first.event_id) == 32
    assert first.ts_init.tzinfo is UTC


def test_streams_for_each_event_type() -> None:
    assert stream_for("trade_tick") is Stream.MARKET_DATA
    assert stream_for("quote_tick") is stream_for("candle") is Stream.MARKET_DATA
    assert stream_for("order_result") is Stream.ORDER_RESULTS
    assert stream_for("risk_decision") is Stream.RISK_DECISIONS
    assert stream_key("claire", Stream.ORDERS) == "claire:orders"
    with pytest.raises(KeyError, match="'nope'"):
        stream_for("nope")


# --- envelope -----------------------------------------------------------------------------


def test_decode_when_timestamp_naive_then_error_names_field() -> None:
    problems = problems_for("alert", ts_event="2025-11-23T12:00:00")
    assert problems == [
        "ts_event: must be timezone-aware (add Z or an offset such as +00:00)"
        " (got '2025-11-23T12:00:00')"
    ]


def test_decode_when_timestamp_has_offset_then_converted_to_utc() -> None:
    event = make("alert", ts_event="2025-11-23T14:00:00+02:00")
    assert event.ts_event == T0
    assert event.ts_event.tzinfo is UTC
    assert event.ts_event.utcoffset() == timedelta(0)


def test_decode_when_schema_version_from_the_future_then_error() -> None:
    assert problems_for("alert", schema_version=2)[0].startswith("schema_version: unsupported")


def test_decode_when_extra_field_then_error_names_it() -> None:
    assert problems_for("alert", colour="red") == ["colour: unexpected field (got 'red')"]


def test_decode_when_type_unknown_then_error_lists_known_types() -> None:
    (problem,) = problems_of({"type": "foo", **ENVELOPE})
    assert problem.startswith("type: unknown event type 'foo' (expected one of: trade_tick,")


def test_decode_when_type_missing_then_error_names_type() -> None:
    (problem,) = problems_of({**ENVELOPE, **VALID["alert"]})
    assert problem.startswith("type: required")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "payload: is not valid JSON"),
        (b"", "payload: is not valid JSON"),
        (b"\xff\xfe", "payload: is not UTF-8 text"),
        (b"[1, 2]", "payload: must be a JSON object (got an array)"),
        (b'"event"', "payload: must be a JSON object (got a string)"),
        (b"null", "payload: must be a JSON object (got null)"),
        (b"[" * 100_000, "payload: JSON is nested too deeply"),
        (12, "payload: must be JSON bytes, text or a mapping (got int)"),
    ],
)
def test_decode_when_payload_not_an_object_then_one_payload_problem(
    raw: Any, expected: str
) -> None:
    (problem,) = problems_of(raw)
    assert problem.startswith(expected)


# --- amounts ------------------------------------------------------------------------------


def test_decode_when_price_negative_then_error_names_price() -> None:
    assert problems_for("trade_tick", price="-1") == ["price: must be greater than 0 (got '-1')"]


@pytest.mark.parametrize("value", ["0", 0, "-0.0"])
def test_decode_when_quantity_zero_then_error_names_quantity(value: object) -> None:
    (problem,) = problems_for("trade_tick", quantity=value)
    assert problem.startswith("quantity: must be greater than 0")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_decode_when_json_nan_or_infinity_then_error_names_field(constant: bytes) -> None:
    raw = encode_event(make("trade_tick")).replace(b'"97000.5"', constant)
    (problem,) = problems_of(raw)
    assert problem.startswith("price: must be a finite number")


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity", "1,5", "1_000", "", "ten"])
def test_decode_when_price_text_not_a_finite_number_then_error(text: str) -> None:
    (problem,) = problems_for("trade_tick", price=text)
    assert problem.startswith("price: must be a")


def test_decode_when_float_given_then_refused_not_rounded() -> None:
    (problem,) = problems_for("trade_tick", price=0.1)
    assert problem == "price: must be a decimal string or an integer, not a float (got 0.1)"


def test_decode_when_amount_too_large_for_storage_then_error() -> None:
    (problem,) = problems_for("trade_tick", quantity="1e20")
    assert problem.startswith("quantity: must be less than 1E+20 in magnitude")


@pytest.mark.parametrize(
    "value",
    ["1e999999999", Decimal("-1E+999999999"), 10**5000, "9" * 5000],
    ids=["exponent", "decimal", "huge-int", "long-text"],
)
def test_decode_when_amount_absurdly_large_then_error_not_crash(value: object) -> None:
    (problem,) = problems_for("trade_tick", price=value)
    assert problem.startswith("price: must be")
    assert len(problem) < 200


def test_decode_when_price_below_storage_precision_then_error() -> None:
    (problem,) = problems_for("trade_tick", price="1e-19")
    assert problem.startswith("price: must be at least 1E-18")


def test_decode_when_several_fields_wrong_then_every_problem_listed() -> None:
    problems = problems_for(
        "trade_tick", price="-1", quantity="NaN", side="sideways", symbol=..., extra=1
    )
    assert len(problems) == 5
    assert [problem.split(":")[0] for problem in problems] == [
        "symbol",
        "price",
        "quantity",
        "side",
        "extra",
    ]


# --- orders -------------------------------------------------------------------------------


def test_decode_when_market_order_has_price_then_error_names_price() -> None:
    assert problems_for("order", order_type="market", price="97000") == [
        "price: must be absent for a market order (got '97000')"
    ]


def test_decode_when_limit_order_has_no_price_then_error_names_price() -> None:
    assert problems_for("order", order_type="limit") == ["price: required for a limit order"]


def test_decode_when_limit_order_has_price_then_order() -> None:
    order = make("order", order_type="LIMIT", price="96000", side="SELL")
    assert isinstance(order, OrderSubmitted)
    assert (order.order_type, order.side, order.price) == (
        OrderType.LIMIT,
        OrderSide.SELL,
        Decimal(96000),
    )


def test_market_order_price_is_none() -> None:
    order = make("order")
    assert isinstance(order, OrderSubmitted)
    assert order.price is None
    assert json.loads(encode_event(order))["price"] is None


@pytest.mark.parametrize("spelling", ["REJECTED", "rejected", "Rejected", " rejected "])
def test_decode_when_status_any_case_then_normalised(spelling: str) -> None:
    result = make_rejection(status=spelling)
    assert result.status is OrderStatus.REJECTED
    assert b'"status":"rejected"' in encode_event(result)


def make_rejection(**overrides: Any) -> OrderResultReported:
    fields = {"status": "rejected", "filled_quantity": "0", "reason": "insufficient funds"}
    fields |= {"execution_price": None, "trade_id": None, "slippage_bps": None} | overrides
    result = make("order_result", **fields)
    assert isinstance(result, OrderResultReported)
    return result


def test_decode_when_status_unknown_then_error_names_value() -> None:
    (problem,) = problems_for("order_result", status="DONE")
    assert problem.startswith("status: unknown order status 'DONE' (expected one of: accepted,")


def test_decode_when_fill_has_no_price_or_trade_id_then_each_named() -> None:
    problems = problems_for("order_result", execution_price=..., trade_id=..., slippage_bps=...)
    assert problems == [
        "execution_price: required for a filled result",
        "slippage_bps: required for a filled result",
        "trade_id: required for a filled result",
    ]


def test_decode_when_fill_quantity_zero_then_error() -> None:
    (problem,) = problems_for("order_result", status="partially_filled", filled_quantity="0")
    assert problem.startswith("filled_quantity: must be greater than 0 for a partially_filled")


def test_decode_when_filled_more_than_ordered_then_error() -> None:
    (problem,) = problems_for("order_result", filled_quantity="0.06")
    assert problem == "filled_quantity: must not exceed quantity (0.05) (got '0.06')"


def test_decode_when_rejection_reports_a_fill_then_error() -> None:
    problems = problems_for(
        "order_result", status="rejected", filled_quantity="0", execution_price="-5", trade_id=None
    )
    assert problems == ["execution_price: must be greater than 0 (got '-5')"]
    problems = problems_for("order_result", status="rejected", filled_quantity="0")
    assert problems == [
        "execution_price: must be absent for a rejected result (nothing was filled) "
        "(got '97010.25')",
        "trade_id: must be absent for a rejected result (nothing was filled) (got 't1')",
    ]


def test_rejection_is_not_a_fill_and_has_no_notional() -> None:
    result = make_rejection()
    assert not result.is_fill
    assert result.notional == 0
    assert result.execution_price is None


def test_fill_notional_is_quantity_times_price() -> None:
    result = make("order_result", slippage_bps="-0.5")
    assert isinstance(result, OrderResultReported)
    assert result.is_fill
    assert result.notional == Decimal("0.05") * Decimal("97010.25")
    assert result.slippage_bps == Decimal("-0.5")


def test_decode_when_approved_without_order_then_error() -> None:
    assert problems_for("risk_decision", order_id=None) == [
        "order_id: required when the decision is approved"
    ]
    denied = make("risk_decision", approved=False, order_id=None, reason_code="MAX_EXPOSURE")
    assert isinstance(denied, RiskDecided)
    assert denied.reason_code == "max_exposure"


def test_decode_when_denied_with_order_then_error() -> None:
    assert problems_for("risk_decision", approved=False) == [
        "order_id: must be absent when the decision is a denial (no order is created) (got 'o1')"
    ]


def test_decode_when_approved_is_a_string_then_error() -> None:
    (problem,) = problems_for("risk_decision", approved="yes")
    assert problem.startswith("approved: must be a valid boolean")


# --- market data, signals, portfolio, alerts ----------------------------------------------


def test_decode_when_quote_crossed_then_error_names_ask() -> None:
    (problem,) = problems_for("quote_tick", ask_price="96999")
    assert problem.startswith("ask_price: must not be below bid_price (97000)")


def test_quote_mid_and_spread() -> None:
    quote = make("quote_tick")
    assert isinstance(quote, QuoteTick)
    assert (quote.mid_price, quote.spread) == (Decimal("97000.05"), Decimal("0.1"))


def test_decode_when_candle_inconsistent_then_each_problem_named() -> None:
    problems = problems_for("candle", low="3020", close="3011", close_time=T0 - timedelta(hours=1))
    assert [problem.split(":")[0] for problem in problems] == ["close_time", "low", "close"]


def test_decode_when_gap_ends_before_it_starts_then_refused() -> None:
    problems = problems_for("market_gap", gap_end=T0 - timedelta(hours=1), cause="outage")
    assert any(p.startswith("cause:") for p in problems)
    assert any(p.startswith("gap_end: must not be before gap_start") for p in problems)


def test_candle_intervals_match_the_database() -> None:
    for interval in schema.CANDLE_INTERVALS:
        assert isinstance(make("candle", interval=interval), Candle)
    assert problems_for("candle", interval="2m")[0].startswith("interval: must be")


def test_decode_when_symbol_lowercase_then_upper_cased() -> None:
    tick = make("trade_tick", symbol=" btcusdt ")
    assert isinstance(tick, TradeTick)
    assert tick.symbol == "BTCUSDT"
    assert problems_for("trade_tick", symbol="BTC USDT")[0].startswith("symbol: must be")


def test_decode_when_confidence_above_one_then_error() -> None:
    (problem,) = problems_for("signal", confidence="1.5")
    assert problem == "confidence: must be less than or equal to 1 (got '1.5')"
    signal = make("signal")
    assert isinstance(signal, SignalGenerated)
    assert signal.signal_id == signal.event_id


def test_decode_when_position_invalid_then_error_names_its_index() -> None:
    positions = [
        {"symbol": "BTCUSDT", "quantity": "1", "average_price": "1"},
        {"symbol": "ETHUSDT", "quantity": "-1", "average_price": "1"},
    ]
    (problem,) = problems_for("portfolio_snapshot", positions=positions)
    assert problem.startswith("positions.1.quantity: must be greater than or equal to 0")


def test_decode_when_position_repeated_then_error() -> None:
    position = {"symbol": "BTCUSDT", "quantity": "1", "average_price": "1"}
    (problem,) = problems_for("portfolio_snapshot", positions=[position, position])
    assert "one position per symbol (repeated: BTCUSDT)" in problem


def test_portfolio_snapshot_timestamp_is_ts_event_and_pnl_may_be_negative() -> None:
    snapshot = make("portfolio_snapshot", equity="-5")
    assert isinstance(snapshot, PortfolioSnapshotTaken)
    assert snapshot.timestamp == T0
    assert snapshot.equity == Decimal(-5)
    assert snapshot.positions == (
        PositionSnapshot(symbol="BTCUSDT", quantity=Decimal("0.05"), average_price=Decimal(97000)),
    )


def test_alert_levels_match_the_database_and_normalise() -> None:
    assert tuple(AlertLevel) == schema.ALERT_LEVELS
    alert = make("alert", level="CRITICAL", cleared=True)
    assert isinstance(alert, AlertRaised)
    assert (alert.level, alert.cleared) == (AlertLevel.CRITICAL, True)
    assert problems_for("alert", level="panic")[0].startswith("level: unknown alert level 'panic'")


# --- properties ---------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

positive = st.decimals(
    min_value=Decimal("1e-18"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False
)
non_negative = st.just(Decimal(0)) | positive
signed = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, allow_infinity=False
)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
symbols = st.from_regex(r"[A-Z0-9]{2,12}", fullmatch=True)
ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True)
codes = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
texts = st.none() | st.text(max_size=40)
sides = st.sampled_from(list(OrderSide))


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_id": draw(ids),
        "ts_event": draw(moments),
        "ts_init": draw(moments),
        "source": draw(codes),
        "run_id": draw(st.none() | ids),
    }


@st.composite
def candles(draw: st.DrawFn) -> Candle:
    low, open_, close, high = sorted(draw(st.lists(positive, min_size=4, max_size=4)))
    if draw(st.booleans()):
        open_, close = close, open_
    opened = draw(moments)
    return Candle(
        **draw(envelopes()),
        symbol=draw(symbols),
        interval=draw(st.sampled_from(schema.CANDLE_INTERVALS)),
        open_time=opened,
        close_time=opened + draw(st.timedeltas(timedelta(seconds=1), timedelta(days=1))),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=draw(non_negative),
        quote_volume=draw(non_negative),
    )


@st.composite
def quote_ticks(draw: st.DrawFn) -> QuoteTick:
    bid, ask = sorted(draw(st.lists(positive, min_size=2, max_size=2)))
    return QuoteTick(
        **draw(envelopes()),
        symbol=draw(symbols),
        bid_price=bid,
        bid_quantity=draw(positive),
        ask_price=ask,
        ask_quantity=draw(positive),
    )


@st.composite
def orders(draw: st.DrawFn) -> OrderSubmitted:
    order_type = draw(st.sampled_from(list(OrderType)))
    return OrderSubmitted(
        **draw(envelopes()),
        order_id=draw(ids),
        signal_id=draw(st.none() | ids),
        symbol=draw(symbols),
        side=draw(sides),
        order_type=order_type,
        quantity=draw(positive),
        price=draw(positive) if order_type is OrderType.LIMIT else None,
        expires_at=draw(st.none() | moments),
        reason=draw(texts),
    )


@st.composite
def order_results(draw: st.DrawFn) -> OrderResultReported:
    status = draw(st.sampled_from(list(OrderStatus)))
    filled, quantity = sorted(draw(st.lists(positive, min_size=2, max_size=2)))
    if not status.is_fill:
        filled = Decimal(0)
    fill_only: dict[str, Any] = {}
    if status.is_fill:
        fill_only = {
            "execution_price": draw(positive),
            "reference_price": draw(positive),
            "slippage_bps": draw(signed),
            "fee_currency": draw(st.sampled_from(["USDT", "BTC", "MX"])),
            "trade_id": draw(ids),
        }
    return OrderResultReported(
        **draw(envelopes()),
        order_id=draw(ids),
        symbol=draw(symbols),
        side=draw(sides),
        order_type=draw(st.sampled_from(list(OrderType))),
        status=status,
        quantity=quantity,
        filled_quantity=filled,
        fee=draw(non_negative),
        reason=draw(texts),
        **fill_only,
    )


@st.composite
def risk_decisions(draw: st.DrawFn) -> RiskDecided:
    approved = draw(st.booleans())
    return RiskDecided(
        **draw(envelopes()),
        signal_id=draw(ids),
        approved=approved,
        reason_code=draw(codes),
        detail=draw(texts),
        order_id=draw(ids) if approved else None,
    )


positions = st.builds(
    PositionSnapshot,
    symbol=symbols,
    quantity=non_negative,
    average_price=non_negative,
    market_price=st.none() | positive,
    realized_pnl=signed,
    unrealized_pnl=signed,
)


def _with_envelope(cls: type[Any], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def with_fields(envelope: dict[str, Any]) -> st.SearchStrategy[Any]:
        fixed = {name: st.just(value) for name, value in envelope.items()}
        return st.builds(cls, **fields, **fixed)

    return envelopes().flatmap(with_fields)


events: st.SearchStrategy[Event] = st.one_of(
    _with_envelope(
        TradeTick,
        symbol=symbols,
        price=positive,
        quantity=positive,
        side=sides,
        trade_id=st.none() | ids,
    ),
    quote_ticks(),
    candles(),
    _with_envelope(
        SignalGenerated,
        symbol=symbols,
        side=sides,
        strategy=codes,
        confidence=st.decimals(min_value=0, max_value=1, allow_nan=False),
        reference_price=positive,
        reason=texts,
    ),
    risk_decisions(),
    orders(),
    order_results(),
    _with_envelope(
        PortfolioSnapshotTaken,
        cash=signed,
        equity=signed,
        positions_value=signed,
        realized_pnl=signed,
        unrealized_pnl=signed,
        exposure=non_negative,
        exposure_pct=non_negative,
        daily_drawdown=non_negative,
        max_drawdown=non_negative,
        positions=st.lists(positions, max_size=4, unique_by=lambda p: p.symbol).map(tuple),
    ),
    _with_envelope(
        AlertRaised,
        level=st.sampled_from(list(AlertLevel)),
        code=codes,
        message=st.text(min_size=1, max_size=40),
        cleared=st.booleans(),
        symbol=st.none() | symbols,
    ),
)

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["-1", "0", "NaN", "1e999999999", "-1E-999999999", "2025-11-23T12:00:00", ""])
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def decode_or_refuse(raw: Any) -> None:
    """Decode `raw`: it must give an event that round-trips, or an EventDecodeError."""
    try:
        event = decode_event(raw)
    except EventDecodeError as exc:
        problems = exc.problems
    else:
        assert decode_event(encode_event(event)) == event
        return
    assert problems
    assert all(isinstance(problem, str) and ": " in problem for problem in problems)


@PROPERTY_SETTINGS
@given(events)
def test_round_trip_property_for_generated_events(event: Event) -> None:
    raw = encode_event(event)
    assert decode_event(raw) == event
    assert encode_event(decode_event(raw)) == raw


@PROPERTY_SETTINGS
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decode_garbage_bytes_or_text_then_event_or_decode_error(raw: bytes | str) -> None:
    decode_or_refuse(raw)


@PROPERTY_SETTINGS
@given(
    st.dictionaries(st.text(max_size=12), json_values, max_size=6)
    | st.fixed_dictionaries(
        {"type": st.sampled_from(EVENT_TYPES)},
        optional={
            "ts_event": st.just("2025-11-23T12:00:00Z"),
            "source": st.just("inject"),
            "symbol": symbols,
            "price": json_values,
            "quantity": st.just("1"),
            "side": st.sampled_from(["buy", "SELL", "up"]),
        },
    )
    | json_values
)
def test_decode_random_json_then_event_or_decode_error(value: Any) -> None:
    decode_or_refuse(json.dumps(value, default=str).encode())
    if isinstance(value, dict):
        decode_or_refuse(value)


@PROPERTY_SETTINGS
@given(events, st.data())
def test_decode_valid_event_with_one_field_mutated_then_event_or_decode_error(
    event: Event, data: st.DataObject
) -> None:
    body = json.loads(encode_event(event))
    field = data.draw(st.sampled_from(sorted(body)), label="field")
    if data.draw(st.booleans(), label="delete"):
        del body[field]
    else:
        body[field] = data.draw(json_values, label="value")
    decode_or_refuse(json.dumps(body).encode())
    decode_or_refuse(body)
