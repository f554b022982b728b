"""The momentum strategy: entries on a rise with volume, the four exits, cooldown, memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.events import SignalGenerated, TradeTick, decode_event, encode_event
from engine.events.orders import OrderSide
from engine.settings import StrategySettings
from engine.strategy import MomentumStrategy, PositionsContext, PriceWindow, StrategyContext
from tests.factories import EPOCH, candle

FLAT = PositionsContext(run_id="run-1")
HOLDING = PositionsContext({"BTCUSDT": (Decimal(1), Decimal(100))}, run_id="run-1")
#: 16 one-minute candles at 100: enough for the 15-minute look-back to be measured.
BASE = ["100"] * 16


def feed(
    strategy: MomentumStrategy,
    closes: Iterable[str | Decimal],
    context: StrategyContext = FLAT,
    *,
    start: int = 0,
    volume: str = "10",
) -> list[SignalGenerated]:
    """Feed 1-minute candles numbered from `start`; return every signal they caused."""
    signals: list[SignalGenerated] = []
    for offset, close in enumerate(closes):
        event = candle(start + offset, close=close, volume=volume, run_id="run-1")
        signals += strategy.on_market_data(event, context)
    return signals


def tick(second: int, price: str, quantity: str = "1") -> TradeTick:
    ts = EPOCH + timedelta(seconds=second)
    return TradeTick(
        event_id=f"tick-{second}",
        ts_event=ts,
        ts_init=ts,
        source="synthetic",
        symbol="BTCUSDT",
        price=Decimal(price),
        quantity=Decimal(quantity),
        side="buy",
    )


def minute_index(signal: SignalGenerated) -> int:
    """Return the number of the candle that caused `signal` (its close is the signal time)."""
    return int((signal.ts_event - EPOCH) / timedelta(minutes=1)) - 1


def rules(signals: Sequence[SignalGenerated]) -> list[str]:
    return [(signal.reason or "").split(":")[0] for signal in signals]


def test_momentum_when_price_rises_past_threshold_then_buy_signal() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "100.6"])

    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is OrderSide.BUY
    assert signal.strategy == "momentum"
    assert signal.reference_price == Decimal("100.6")
    assert signal.confidence == Decimal("0.3000")  # 0.6% / (4 x 0.5%)
    assert signal.reason is not None
    assert signal.reason.startswith("momentum +0.60% over 15m (threshold 0.50%)")
    assert "quote volume 15,006.00" in signal.reason
    assert signal.ts_event == signal.ts_init == EPOCH + timedelta(minutes=17)
    assert signal.event_id == "sig-run-1-momentum-BTCUSDT-20260105T001700000000-buy"
    assert signal.source == "engine.signal"
    assert signal.run_id == "run-1"


def test_momentum_confidence_when_move_is_four_thresholds_or_more_then_one() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "103"])

    assert [signal.confidence for signal in signals] == [Decimal(1)]


def test_momentum_when_rise_below_threshold_then_no_signal() -> None:
    assert feed(MomentumStrategy(), [*BASE, "100.49"]) == []


def test_momentum_when_look_back_not_yet_covered_then_no_signal() -> None:
    # 15 candles span 14 minutes from the first close to the last.
    assert feed(MomentumStrategy(), ["100"] * 14 + ["105"]) == []


def test_momentum_when_volume_below_minimum_then_no_entry() -> None:
    settings = StrategySettings(min_quote_volume=Decimal(20_000))

    thin = feed(MomentumStrategy(settings), [*BASE, "100.6"], volume="10")
    thick = feed(MomentumStrategy(settings), [*BASE, "100.6"], volume="20")

    assert thin == []
    assert [signal.side for signal in thick] == [OrderSide.BUY]
    assert "quote volume 30,012.00 (min 20,000.00)" in (thick[0].reason or "")


def test_momentum_when_signalled_then_cooldown_suppresses_next_entry() -> None:
    rising = [Decimal("100.6") + Decimal("0.1") * step for step in range(35)]

    signals = feed(MomentumStrategy(), [*BASE, *rising])

    assert [minute_index(signal) for signal in signals] == [16, 31, 46]
    assert {signal.side for signal in signals} == {OrderSide.BUY}


def test_momentum_when_cooldown_is_zero_then_entries_every_candle() -> None:
    strategy = MomentumStrategy(StrategySettings(cooldown_minutes=0))

    signals = feed(strategy, [*BASE, "100.6", "100.7", "100.8"])

    assert [minute_index(signal) for signal in signals] == [16, 17, 18]


def test_momentum_when_price_reaches_take_profit_then_one_sell() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "101", "102.5"], HOLDING)

    assert [signal.side for signal in signals] == [OrderSide.SELL]
    assert signals[0].reason == "take-profit: price 102.5 >= 102 (entry 100 +2.00%)"
    assert signals[0].confidence == Decimal(1)
    assert signals[0].reference_price == Decimal("102.5")


def test_momentum_when_price_falls_to_stop_loss_then_one_sell() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "98.9"], HOLDING)

    assert rules(signals) == ["stop-loss"]
    assert signals[0].reason == "stop-loss: price 98.9 <= 99 (entry 100 -1.00%)"


def test_momentum_when_price_falls_from_high_then_trailing_stop_sell() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "101", "101.8", "100.2"], HOLDING)

    assert rules(signals) == ["trailing stop"]
    assert signals[0].reason == (
        "trailing stop: price 100.2 <= 100.273 (1.50% below the high 101.8 since entry)"
    )
    assert minute_index(signals[0]) == 18


def test_momentum_when_trailing_stop_after_fill_then_high_counts_from_fill() -> None:
    strategy = MomentumStrategy()
    feed(strategy, BASE, HOLDING)
    strategy.on_fill("BTCUSDT", OrderSide.BUY, Decimal(1), Decimal("101.6"), EPOCH)

    signals = feed(strategy, ["100.05"], HOLDING, start=16)

    assert rules(signals) == ["trailing stop"]
    assert "the high 101.6 since entry" in (signals[0].reason or "")


def test_momentum_when_move_reverses_while_holding_then_reversal_sell() -> None:
    signals = feed(MomentumStrategy(), [*BASE, "99.4"], HOLDING)

    assert rules(signals) == ["momentum reversal"]
    assert signals[0].reason == "momentum reversal: -0.60% over 15m (exit at -0.50%)"


def test_momentum_when_rule_set_to_zero_then_it_never_exits() -> None:
    settings = StrategySettings(
        take_profit=Decimal(0),
        stop_loss=Decimal(0),
        trailing_stop=Decimal(0),
        reversal_threshold=Decimal(0),
    )

    signals = feed(MomentumStrategy(settings), [*BASE, "150", "50"], HOLDING)

    assert signals == []


def test_momentum_when_flat_then_no_exit_signals() -> None:
    falling = [Decimal(100) - step for step in range(30)]

    assert feed(MomentumStrategy(), falling) == []


def test_momentum_when_exit_signalled_then_not_repeated_until_cooldown() -> None:
    strategy = MomentumStrategy()
    first = feed(strategy, [*BASE, "102.5"], HOLDING)
    half = PositionsContext({"BTCUSDT": (Decimal("0.5"), Decimal(100))}, run_id="run-1")

    quiet = feed(strategy, ["102.5"] * 14, half, start=17)
    again = feed(strategy, ["102.5"], half, start=31)

    assert rules(first) == ["take-profit"]
    assert quiet == []
    assert rules(again) == ["take-profit"]


def test_momentum_when_new_position_opens_then_exit_can_fire_at_once() -> None:
    strategy = MomentumStrategy()
    feed(strategy, [*BASE, "102.5"], HOLDING)
    feed(strategy, ["102.5"], FLAT, start=17)

    signals = feed(strategy, ["102.5"], HOLDING, start=18)

    assert rules(signals) == ["take-profit"]


def test_momentum_when_exit_follows_entry_then_cooldown_does_not_delay_it() -> None:
    strategy = MomentumStrategy()
    entry = feed(strategy, [*BASE, "100.6"])
    bought = PositionsContext({"BTCUSDT": (Decimal(1), Decimal("100.6"))}, run_id="run-1")

    exit_ = feed(strategy, ["99.5"], bought, start=17)

    assert [signal.side for signal in entry + exit_] == [OrderSide.BUY, OrderSide.SELL]
    assert minute_index(exit_[0]) == 17


def test_momentum_when_exit_then_no_reentry_during_cooldown() -> None:
    strategy = MomentumStrategy()
    feed(strategy, [*BASE, "102.5"], HOLDING)

    soon = feed(strategy, ["103"] * 14, FLAT, start=17)
    later = feed(strategy, ["103.5"], FLAT, start=31)

    assert soon == []
    assert [signal.side for signal in later] == [OrderSide.BUY]


def test_momentum_when_trade_ticks_rise_then_buy_with_tick_volume() -> None:
    strategy = MomentumStrategy()
    ticks = [tick(second, "100", "2") for second in range(0, 16 * 60, 30)]
    ticks.append(tick(16 * 60 + 5, "100.7", "2"))

    signals = [s for event in ticks for s in strategy.on_market_data(event, FLAT)]

    assert [signal.side for signal in signals] == [OrderSide.BUY]
    assert signals[0].reference_price == Decimal("100.7")
    # Minutes 3 to 17 (the look-back, by minute): 27 trades of 200 and the rising one.
    assert "quote volume 5,601.40" in (signals[0].reason or "")


def test_momentum_when_candles_arrive_then_trade_ticks_are_ignored() -> None:
    strategy = MomentumStrategy()
    feed(strategy, BASE)

    signals = strategy.on_market_data(tick(16 * 60 + 5, "110"), FLAT)

    assert signals == []
    assert strategy.window_length("BTCUSDT") == 16


def test_momentum_when_candle_is_older_than_newest_then_ignored() -> None:
    strategy = MomentumStrategy()
    feed(strategy, [*BASE, "100"])

    late = feed(strategy, ["105"], start=5)

    assert late == []
    assert feed(strategy, ["100.1"], start=17) == []


def test_momentum_when_10000_candles_then_window_stays_bounded() -> None:
    strategy = MomentumStrategy()
    lengths: list[int] = []
    for index, close in enumerate(walk(10_000)):
        strategy.on_market_data(candle(index, close=close), FLAT)
        lengths.append(strategy.window_length("BTCUSDT"))

    assert max(lengths) == 15 + 1


def test_momentum_when_10000_trade_ticks_then_window_stays_bounded() -> None:
    strategy = MomentumStrategy()
    longest = 0
    for second in range(10_000):
        strategy.on_market_data(tick(second * 7, "100"), FLAT)
        longest = max(longest, strategy.window_length("BTCUSDT"))

    assert longest == 15 + 1


def test_price_window_when_data_gap_longer_than_look_back_then_change_unknown() -> None:
    window = PriceWindow(timedelta(minutes=15))
    window.add(EPOCH, Decimal(100), Decimal(0), whole=True)

    window.add(EPOCH + timedelta(minutes=15), Decimal(101), Decimal(0), whole=True)
    measured = window.change()
    window.add(EPOCH + timedelta(minutes=60), Decimal(102), Decimal(0), whole=True)

    assert measured == Decimal("0.01")
    assert window.change() is None


def test_price_window_when_candle_follows_ticks_of_its_minute_then_volume_replaced() -> None:
    window = PriceWindow(timedelta(minutes=15))
    window.add(EPOCH + timedelta(seconds=20), Decimal(100), Decimal(5), whole=False)
    window.add(EPOCH + timedelta(seconds=40), Decimal(101), Decimal(5), whole=False)
    ticks_volume = window.quote_volume()

    window.add(EPOCH + timedelta(minutes=1), Decimal(101), Decimal(12), whole=True)

    assert ticks_volume == Decimal(10)
    assert window.quote_volume() == Decimal(12)
    assert len(window) == 1


class FillEverySignal:
    """A context whose positions follow every signal at once, like an instant fill."""

    def __init__(self) -> None:
        self.run_id: str | None = "run-1"
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}

    def position(self, symbol: str) -> tuple[Decimal, Decimal]:
        return self.positions.get(symbol, (Decimal(0), Decimal(0)))

    def apply(self, signal: SignalGenerated) -> None:
        if signal.side is OrderSide.BUY:
            self.positions[signal.symbol] = (Decimal(1), signal.reference_price)
        else:
            self.positions.pop(signal.symbol, None)


def walk(count: int) -> list[Decimal]:
    """Return a deterministic price path: 30-minute up and down trends plus noise."""
    price, seed, closes = Decimal(100), 7, []
    for index in range(count):
        seed = (seed * 1_103_515_245 + 12_345) % 2**31
        noise = Decimal(seed % 41 - 20) / 10_000
        trend = Decimal("0.0008") if (index // 30) % 2 == 0 else Decimal("-0.0008")
        price = (price * (1 + trend + noise)).quantize(Decimal("0.0001"))
        closes.append(price)
    return closes


def run_once(closes: Sequence[Decimal]) -> list[SignalGenerated]:
    strategy, context = MomentumStrategy(), FillEverySignal()
    signals: list[SignalGenerated] = []
    for index, close in enumerate(closes):
        for signal in strategy.on_market_data(candle(index, close=close), context):
            context.apply(signal)
            signals.append(signal)
    return signals


def test_momentum_when_same_candles_run_twice_then_identical_signals() -> None:
    closes = walk(500)

    first, second = run_once(closes), run_once(closes)

    assert first == second
    assert {signal.side for signal in first} == {OrderSide.BUY, OrderSide.SELL}
    assert len({signal.event_id for signal in first}) == len(first)


@pytest.mark.parametrize("closes", [[*BASE, "100.6"], [*BASE, "98.9"]])
def test_momentum_signals_when_encoded_then_decode_to_valid_events(closes: list[str]) -> None:
    signals = feed(MomentumStrategy(), closes, HOLDING if closes[-1] == "98.9" else FLAT)

    assert signals
    for signal in signals:
        assert decode_event(encode_event(signal)) == signal
        assert SignalGenerated.model_validate(signal.model_dump()) == signal
