"""The edge cases `claire inject` throws at the engine, each with the outcome it must have."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.bus.redis_streams import RedisStreamBus
from engine.events import Candle, Event, OrderSubmitted, SignalGenerated, encode_event
from engine.inject.harness import Harness, Outcome
from engine.settings import Settings
from engine.streams import Stream

MINUTE = timedelta(minutes=1)
MARKET_PRICE = Decimal("95000")


@dataclass(frozen=True)
class Params:
    """What the operator can vary."""

    count: int = 10
    seed: int = 42
    rate: float = 100.0  # events per second, for `load`


@dataclass(frozen=True)
class Scenario:
    """One edge case: what it does, what must come out, and how it is checked."""

    name: str
    description: str
    expected: str
    run: Callable[[Harness, Params], Outcome]
    #: Settings the scenario's engine needs (e.g. limits that let a drawdown happen).
    prepare: Callable[[Settings], Settings] = lambda settings: settings


def _market(h: Harness, minutes: int = 1, start: int = 0) -> list[Candle]:
    """Candles that give execution a price (closes at MARKET_PRICE), ending at `h.now`."""
    return [
        _candle(h, h.symbol, h.now - MINUTE * (start + minutes - m - 1), MARKET_PRICE, m)
        for m in range(start, start + minutes)
    ]


def _later(h: Harness) -> Candle:
    """A candle closing after the orders: paper execution fills a market order at the
    market as it is after the order's latency, so it waits for data newer than the order."""
    return _candle(h, h.symbol, h.now + MINUTE, MARKET_PRICE, 999_999)


def _candle(h: Harness, symbol: str, closes_at: datetime, price: Decimal, number: int) -> Candle:
    return Candle(
        **h.envelope(f"candle-{symbol}", number, at=closes_at),
        symbol=symbol,
        open_time=closes_at - MINUTE,
        close_time=closes_at,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(50),
        quote_volume=Decimal(50) * price,
    )


def _signal(h: Harness, number: int, at: datetime, side: str = "buy") -> SignalGenerated:
    return SignalGenerated(
        **h.envelope("signal", number, at=at),
        symbol=h.symbol,
        side=side,
        strategy="inject",
        confidence=Decimal("0.9"),
        reference_price=MARKET_PRICE,
        reason="injected",
    )


def _decision(h: Harness, number: int) -> tuple[bool, str] | None:
    row = h.conn.execute(
        "SELECT approved, reason_code FROM risk_decisions WHERE signal_id = %s",
        (h.event_id("signal", number),),
    ).fetchone()
    return (bool(row[0]), str(row[1])) if row else None


def _alerts(h: Harness, code: str) -> list[tuple[bool, str]]:
    rows = h.conn.execute(
        "SELECT cleared, level FROM alerts WHERE run_id = %s AND code = %s ORDER BY ts_event",
        (h.run_id, code),
    ).fetchall()
    return [(bool(r[0]), str(r[1])) for r in rows]


def stale_data(h: Harness, p: Params) -> Outcome:
    other = "ETHUSDT" if h.symbol != "ETHUSDT" else "BTCUSDT"
    events: list[Event] = [
        _candle(h, h.symbol, h.now - MINUTE * (10 - m), MARKET_PRICE, m) for m in range(5)
    ]
    # The symbol goes quiet while the market (another symbol) moves on five minutes.
    events += [_candle(h, other, h.now - MINUTE * (5 - m), Decimal(3500), m) for m in range(6)]
    events.append(_signal(h, 1, h.now))
    h.bus.publish_many(events)
    h.settle()
    h.bus.publish_many(
        [_candle(h, h.symbol, h.now + MINUTE, MARKET_PRICE, 99), _signal(h, 2, h.now + MINUTE)]
    )
    out = _outcome(h, "stale-data")
    out.figures["settle_s"] = h.settle()
    alerts = _alerts(h, "market_data_stale")
    out.expect("stale alert raised", True, (False, "warning") in [(c, lv) for c, lv in alerts])
    out.expect("entry denied as stale", (False, "stale_market_data"), _decision(h, 1))
    out.expect("alert cleared when data resumes", True, any(cleared for cleared, _ in alerts))
    second = _decision(h, 2)
    out.expect(
        "no stale denial once data is back",
        True,
        second is not None and second[1] != "stale_market_data",
    )
    return out


def _unlimited(settings: Settings) -> Settings:
    """A position as large as equity, so a price fall moves equity as much."""
    risk = settings.risk.model_copy(
        update={
            "max_position": Decimal(1),
            "max_exposure": Decimal(1),
            "max_daily_drawdown": Decimal(1),
        }
    )
    return settings.model_copy(update={"risk": risk})


def drawdown(h: Harness, p: Params) -> Outcome:
    events: list[Event] = [
        _candle(h, h.symbol, h.now - MINUTE * (3 - m), MARKET_PRICE, m) for m in range(3)
    ]
    events.append(_signal(h, 1, h.now))
    h.bus.publish_many(events)
    h.wait_for("the entry order", "SELECT COUNT(*) FROM orders WHERE run_id = %s", h.run_id)
    # Execution fills a market order at the first market data after its latency.
    h.bus.publish(_candle(h, h.symbol, h.now + MINUTE, MARKET_PRICE, 3))
    h.wait_for("the entry fill", "SELECT COUNT(*) FROM trades WHERE run_id = %s", h.run_id)
    h.settle()
    # Then the price falls 1 % a minute for twelve minutes.
    falling = [
        _candle(
            h,
            h.symbol,
            h.now + MINUTE * (2 + m),
            MARKET_PRICE * (1 - Decimal("0.01") * (m + 1)),
            10 + m,
        )
        for m in range(12)
    ]
    h.bus.publish_many([*falling, _signal(h, 2, h.now + MINUTE * 14)])
    out = _outcome(h, "drawdown")
    out.figures["settle_s"] = h.settle()
    fills = h.scalar("SELECT COUNT(*) FROM trades WHERE run_id = %s", h.run_id)
    out.expect("entry filled", 1, fills)
    out.expect("drawdown alert (3 %)", True, bool(_alerts(h, "drawdown")))
    halted = _alerts(h, "abort_drawdown")
    out.expect("run halted at the abort level (8 %), critical", True, (False, "critical") in halted)
    denied = _decision(h, 2)
    out.expect("entries refused once halted", True, denied is not None and not denied[0])
    out.figures["decision_after_halt"] = denied
    return out


def _order(h: Harness, number: int, *, limit: Decimal | None = None) -> OrderSubmitted:
    return OrderSubmitted(
        **h.envelope("order", number),
        order_id=h.event_id("o", number),
        symbol=h.symbol,
        side="buy",
        order_type="market" if limit is None else "limit",
        quantity=Decimal("0.001"),
        price=limit,
        reason="inject",
    )


def _outcome(h: Harness, name: str) -> Outcome:
    return Outcome(name, h.batch)


def market_order_no_price(h: Harness, p: Params) -> Outcome:
    h.bus.publish_many(_market(h))
    h.bus.publish_many([*(_order(h, i) for i in range(p.count)), _later(h)])
    out = _outcome(h, "market-order-no-price")
    out.figures["settle_s"] = h.settle()
    out.expect("orders stored", p.count, h.count("orders"))
    out.expect("market orders with price NULL", p.count, h.count("orders", "price IS NULL"))
    out.expect("fills", p.count, h.count("trades"))
    out.expect("fills priced from the market", 0, h.count("trades", "execution_price <= 0"))
    return out


def limit_order_with_price(h: Harness, p: Params) -> Outcome:
    price = Decimal("90000.123456789")
    h.bus.publish_many(_market(h))
    h.bus.publish_many([_order(h, i, limit=price) for i in range(p.count)])
    out = _outcome(h, "limit-order-with-price")
    out.figures["settle_s"] = h.settle()
    out.expect("limit orders stored", p.count, h.count("orders", "order_type = 'limit'"))
    out.expect("with their exact price", p.count, h.count("orders", "price = %s", price))
    out.expect("resting, not filled", 0, h.count("trades"))
    return out


def mixed_orders(h: Harness, p: Params) -> Outcome:
    h.bus.publish_many(_market(h))
    orders = [_order(h, i, limit=Decimal(90_000) if i % 3 == 0 else None) for i in range(p.count)]
    h.bus.publish_many([*orders, _later(h)])
    out = _outcome(h, "mixed-orders")
    out.figures["settle_s"] = h.settle()
    limits = sum(1 for o in orders if o.order_type == "limit")
    rows = h.conn.execute(
        "SELECT order_type, COUNT(*), COUNT(price) FROM orders WHERE event_id LIKE %s"
        " GROUP BY order_type ORDER BY order_type",
        (f"inject-{h.batch}-%",),
    ).fetchall()
    split = {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
    out.expect(
        "GROUP BY order_type: limit (count, with price)", (limits, limits), split.get("limit")
    )
    market = p.count - limits
    out.expect("GROUP BY order_type: market (count, with price)", (market, 0), split.get("market"))
    return out


def _raw_result(h: Harness, number: int, status: str) -> bytes:
    """An order result as a producer with its own spelling of the status would write it."""
    payload = {
        "type": "order_result",
        **{
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in h.envelope("result", number).items()
        },
        "order_id": h.event_id("o", number),
        "symbol": h.symbol,
        "side": "buy",
        "order_type": "limit",
        "status": status,
        "quantity": "0.001",
        "reason": f"injected {status}",
    }
    return json.dumps(payload).encode()


def status_variants(h: Harness, p: Params) -> Outcome:
    spellings = ["REJECTED", "rejected", "Rejected", "CANCELLED"]
    h.bus.publish_many(_market(h))
    h.bus.publish_many([_order(h, i, limit=Decimal(90_000)) for i in range(len(spellings))])
    h.settle()
    for i, status in enumerate(spellings):
        h.bus.publish_raw(Stream.ORDER_RESULTS, _raw_result(h, i, status))
    out = _outcome(h, "status-variants")
    out.figures["settle_s"] = h.settle()
    refused = h.count("orders", "status IN ('rejected', 'cancelled')")
    out.expect("orders recorded as rejected/cancelled", len(spellings), refused)
    out.expect("no trade for a refusal", 0, h.count("trades"))
    out.expect("nothing dead-lettered", 0, len(h.dead_letters()))
    return out


def unknown_status(h: Harness, p: Params) -> Outcome:
    h.bus.publish_raw(Stream.ORDER_RESULTS, _raw_result(h, 0, "EXPLODED"))
    out = _outcome(h, "unknown-status")
    out.figures["settle_s"] = h.settle()
    letters = h.dead_letters()
    out.expect("dead-lettered", 1, len(letters))
    named = bool(letters) and "status" in letters[0]
    out.expect("the reason names the status", True, named)
    out.expect("nothing in trades", 0, h.count("trades"))
    return out


def duplicates(h: Harness, p: Params) -> Outcome:
    events: list[Event] = [*_market(h), *(_order(h, i) for i in range(p.count)), _later(h)]
    h.bus.publish_many(events)
    h.bus.publish_many(events)  # the very same events again
    out = _outcome(h, "duplicates")
    out.figures["settle_s"] = h.settle()
    out.expect("orders stored once", p.count, h.count("orders"))
    out.expect("fills once", p.count, h.count("trades"))
    out.expect("candles once", 2, h.count("candles"))
    return out


def _invalid_payloads(h: Harness) -> list[bytes]:
    base = json.loads(encode_event(_market(h, 1, start=100)[0]))

    def variant(number: int, **changes: Any) -> bytes:
        payload = {**base, "event_id": h.event_id("bad", number), **changes}
        return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode()

    return [
        f'{{"type": "candle", "event_id": "{h.event_id("bad", 0)}", "open": '.encode(),
        variant(1, close=...),  # a missing field
        variant(2, volume=[1, 2]),  # a wrong type
        variant(3, low="-5"),  # a negative price
        variant(4, close="0"),  # a zero price
        variant(5, high="NaN"),  # not a number
        variant(6, high="1e40"),  # too large to store
        variant(7, symbol="BTC USDT!"),  # not a symbol
    ]


def invalid_payloads(h: Harness, p: Params) -> Outcome:
    valid = _market(h, p.count)
    invalid = _invalid_payloads(h)
    for i, bad in enumerate(invalid):
        h.bus.publish_raw(Stream.MARKET_DATA, bad)
        if i < len(valid):
            h.bus.publish(valid[i])
    h.bus.publish_many(valid[len(invalid) :])
    out = _outcome(h, "invalid-payloads")
    out.figures["settle_s"] = h.settle()
    letters = h.dead_letters()
    out.expect("every invalid event dead-lettered", len(invalid), len(letters))
    out.expect("every valid event persisted", len(valid), h.count("candles"))
    out.expect("no stage crashed", 0, sum(r.restarts for r in h.threads.runners))
    out.expect("no execution_price <= 0", 0, h.count("trades", "execution_price <= 0"))
    out.figures["reasons"] = letters
    return out


def send_burst(redis_url: str, namespace: str, payloads: list[bytes]) -> float:
    """Publish `payloads` on the market data stream as fast as Redis takes them; return
    the seconds it took (runs in its own process)."""
    bus = RedisStreamBus.from_url(redis_url, namespace)
    started = time.monotonic()
    for offset in range(0, len(payloads), 2_000):
        bus.publish_encoded(Stream.MARKET_DATA, payloads[offset : offset + 2_000])
    elapsed = time.monotonic() - started
    bus.client.close()
    return elapsed


def burst(h: Harness, p: Params) -> Outcome:
    payloads = [encode_event(c) for c in _market(h, p.count)]  # formed before the burst
    # Sent from another process, as a real producer would: the engine's stage threads here
    # would otherwise slow the sender down through the interpreter lock.
    url = h.redis_url
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        published_s = pool.submit(send_burst, url, h.bus.namespace, payloads).result()
    out = _outcome(h, "burst")
    drained = h.settle(timeout=120)
    persisted, letters = h.count("candles"), len(h.dead_letters())
    out.expect("persisted + dead-lettered = sent", p.count, persisted + letters)
    out.expect("sent within one second", True, published_s <= 1.0)
    out.figures.update(
        sent=p.count,
        published_in_s=round(published_s, 3),
        drained_in_s=round(drained, 3),
        events_per_s=round(p.count / (published_s + drained), 1),
    )
    return out


def _ms(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.split("-", 1)[0])


def load(h: Harness, p: Params) -> Outcome:
    """Signals at `--rate` per second: every one decided, latency from the streams' clocks."""
    h.bus.publish_many(_market(h, 3))
    h.settle()
    sent: dict[str, int] = {}
    started = time.monotonic()
    for i in range(p.count):
        due = started + i / p.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        signal = _signal(h, i, h.now)
        sent[signal.event_id] = _ms(h.bus.publish(signal))
    out = _outcome(h, "load")
    out.figures["settle_s"] = h.settle(timeout=120)
    decided: dict[str, int] = {}
    entries: list[Any] = h.bus.client.xrange(h.bus.key(Stream.RISK_DECISIONS)) or []
    for stream_id, fields in entries:
        decision = json.loads(fields[b"event"])
        decided[decision["signal_id"]] = _ms(stream_id)
    latencies = sorted(decided[s] - sent[s] for s in sent if s in decided)
    out.expect("every signal decided, none lost", p.count, len(latencies))
    stored = h.scalar("SELECT COUNT(*) FROM risk_decisions WHERE run_id = %s", h.run_id)
    out.expect("decisions stored", p.count, stored)
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        out.figures.update(rate_per_s=p.rate, latency_p50_ms=p50, latency_p99_ms=p99)
        out.expect("p99 signal -> decision under 100 ms", True, p99 < 100)
    return out


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "market-order-no-price",
            "market orders",
            "stored with price NULL, filled",
            market_order_no_price,
        ),
        Scenario(
            "limit-order-with-price",
            "limit orders below the market",
            "stored with their exact Decimal price, resting",
            limit_order_with_price,
        ),
        Scenario(
            "mixed-orders",
            "market and limit orders",
            "GROUP BY order_type shows the split",
            mixed_orders,
        ),
        Scenario(
            "status-variants",
            "REJECTED / rejected / Rejected / CANCELLED results",
            "recorded on the order, no trade",
            status_variants,
        ),
        Scenario(
            "unknown-status",
            "a result with an unknown status",
            "dead-lettered with the reason, no trade",
            unknown_status,
        ),
        Scenario("duplicates", "the same events twice", "stored once", duplicates),
        Scenario(
            "invalid-payloads",
            "malformed, missing field, wrong type, negative, zero, NaN, huge, bad symbol",
            "each invalid one dead-lettered, each valid one stored, no crash",
            invalid_payloads,
        ),
        Scenario(
            "burst", "--count events at once", "persisted + dead-lettered = sent; drain time", burst
        ),
        Scenario(
            "load",
            "--count signals at --rate per second",
            "every signal decided; latency p50/p99 (target p99 < 100 ms)",
            load,
        ),
        Scenario(
            "stale-data",
            "a symbol's data stops, then resumes",
            "breaker trips (alert, entries denied as stale), clears when data returns",
            stale_data,
        ),
        Scenario(
            "drawdown",
            "a full-size position, then the price falls 12 %",
            "alert at 3 %, the run halts at 8 % with a critical alert, entries refused",
            drawdown,
            _unlimited,
        ),
    )
}
