"""The paper portfolio: cash, positions, marks, PnL, exposure and drawdown, in event time.

Pure: it changes only through `apply_fill` and `mark`, and every time it knows comes from
those calls (no clock). A position is valued at the market (its latest mark), never at its
own fill's execution price, so a fill's slippage and fee show at once as a loss. Amounts
are exact `Decimal` (see `engine.domain.positions`), so
`equity - initial_capital == realized_pnl + unrealized_pnl` holds to the last digit and
`reconcile()` can demand it.

Drawdowns are fractions of a peak (0.05 is 5 %): `max_drawdown` is the largest fall from
the running peak equity seen at any update (or, for a caller that passes `track=False` and
calls `track(ts)` itself, at the moments it tracks: the end of each instant of event time,
when every price of that instant is in); `daily_drawdown` is the fall from the current
UTC day's peak, which starts at the equity carried over from before the day's first
update and resets when an update's event time enters a new UTC day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from engine.domain.drawdown import fall, worse_fall
from engine.domain.errors import InvalidFillError, InvalidMarkError
from engine.domain.fills import DEFAULT_QUOTE_CURRENCY, Fill
from engine.domain.positions import ZERO, Position, exact, fraction
from engine.events import PortfolioSnapshotTaken, PositionSnapshot
from engine.events.fields import is_plain_code, is_plain_identifier, is_plain_symbol
from engine.events.orders import OrderSide
from engine.events.trusted import storable, trusted
from engine.money import quantize

#: The `source` of the snapshots this portfolio takes, unless told otherwise.
SNAPSHOT_SOURCE = "engine.portfolio"


class Portfolio:
    """Cash and positions in one quote currency, marked to the latest prices."""

    def __init__(
        self, initial_capital: Decimal, quote_currency: str = DEFAULT_QUOTE_CURRENCY
    ) -> None:
        if not isinstance(initial_capital, Decimal) or not initial_capital.is_finite():
            raise ValueError(f"initial capital must be a finite Decimal (got {initial_capital!r})")
        if initial_capital <= 0:
            raise ValueError(f"initial capital must be greater than 0 (got {initial_capital})")
        self.initial_capital = initial_capital
        self.quote_currency = quote_currency
        self._cash = initial_capital
        self._positions: dict[str, Position] = {}
        self._marks: dict[str, Decimal] = {}
        self._marked_at: dict[str, datetime] = {}
        # Cash ledger kept apart from the positions, so reconcile() has something to check.
        self._bought = self._sold = self._fees = ZERO
        self._peak = self._last_equity = initial_capital
        self._max_drawdown = ZERO
        self._day: date | None = None
        self._day_peak = initial_capital
        self._day_worst = ZERO
        self._tracked = False  # True while the marks above are up to date with the last equity
        self._held: _Held | None = None  # the open positions' snapshot parts, until a fill

    @classmethod
    def replay(
        cls,
        initial_capital: Decimal,
        fills: Iterable[Fill],
        marks: Mapping[str, Decimal] | None = None,
        *,
        marked_at: datetime | None = None,
        quote_currency: str = DEFAULT_QUOTE_CURRENCY,
        peak_equity: Decimal | None = None,
        max_drawdown: Decimal | None = None,
    ) -> Portfolio:
        """Rebuild a portfolio from its fills in order (e.g. the `trades` of a run).

        `marks` are applied after the fills, at `marked_at` (default: the last fill's time).
        `peak_equity` and `max_drawdown`, when known from stored snapshots, are floors for
        the values the replay computes (marks between fills are not replayed).
        """
        portfolio = cls(initial_capital, quote_currency)
        last_ts: datetime | None = None
        for fill in fills:
            portfolio.apply_fill(fill)
            last_ts = fill.ts if last_ts is None else max(last_ts, fill.ts)
        ts = marked_at or last_ts
        for symbol, price in (marks or {}).items():
            if ts is None:
                portfolio._marks[symbol] = _checked_price(symbol, price)
            else:
                portfolio.mark(symbol, price, ts)
        portfolio.raise_floors(peak_equity, max_drawdown)
        return portfolio

    def raise_floors(self, peak_equity: Decimal | None, max_drawdown: Decimal | None) -> None:
        """Count high-water marks seen beyond this portfolio's own memory (stored snapshots)."""
        if peak_equity is not None:
            self._peak = max(self._peak, peak_equity)
        if max_drawdown is not None:
            self._max_drawdown = max(self._max_drawdown, max_drawdown)
        self._tracked = False

    # -- updates -----------------------------------------------------------------------

    @exact
    def apply_fill(self, fill: Fill, *, track: bool = True) -> bool:
        """Apply one fill to cash and its position; False for a duplicate trade id.

        The position stays valued at its symbol's latest mark (the market), not at the fill's
        price. Raise `OversellError` (nothing changes) when it sells more than is held, and
        `InvalidFillError` when its fee is not in the quote currency. With `track` False the
        drawdowns wait for `track(ts)`.
        """
        if fill.fee_currency != self.quote_currency:
            raise InvalidFillError(
                f"fill {fill.trade_id!r} pays its fee in {fill.fee_currency}; "
                f"this portfolio keeps {self.quote_currency}"
            )
        position = self._positions.get(fill.symbol) or Position(fill.symbol)
        if not position.apply(fill):
            return False
        self._positions[fill.symbol] = position
        self._held = None
        if fill.side is OrderSide.BUY:
            self._cash -= fill.notional + fill.fee
            self._bought += fill.notional
        else:
            self._cash += fill.notional - fill.fee
            self._sold += fill.notional
        self._fees += fill.fee
        if track:
            self._track(fill.ts)
        else:
            self._tracked = False
        return True

    def mark(self, symbol: str, price: Decimal, ts: datetime, *, track: bool = True) -> None:
        """Mark `symbol` at `price` as of event time `ts`; a mark older than the last is ignored.

        With `track` False the drawdowns wait for `track(ts)`."""
        price = _checked_price(symbol, price)
        if not isinstance(ts, datetime) or ts.utcoffset() is None:
            raise InvalidMarkError(f"mark time for {symbol} must be timezone-aware (got {ts!r})")
        marked_at = self._marked_at.get(symbol)
        if marked_at is not None and ts < marked_at:
            return
        self._marks[symbol], self._marked_at[symbol] = price, ts
        if track:
            self._track(ts)
        else:
            self._tracked = False

    def track(self, ts: datetime) -> None:
        """Count the equity now in the peaks and drawdowns, as of event time `ts`."""
        self._track(ts)

    @exact
    def _track(self, ts: datetime) -> None:
        """Update peak, max and daily drawdown after a change at event time `ts`."""
        equity = self._equity()
        day = (ts if ts.tzinfo is UTC else ts.astimezone(UTC)).date()
        if self._tracked and equity == self._last_equity and day == self._day:
            return  # nothing moved (a mark while flat): the marks already count this equity
        if self._day is None or day > self._day:
            self._day, self._day_peak, self._day_worst = day, self._last_equity, ZERO
        self._peak = max(self._peak, equity)
        self._day_peak = max(self._day_peak, equity)
        self._max_drawdown = worse_fall(self._max_drawdown, self._peak, equity)
        if self._day_peak > 0:
            self._day_worst = worse_fall(self._day_worst, self._day_peak, equity)
        self._last_equity = equity
        self._tracked = True

    def _equity(self) -> Decimal:
        """Return cash + Σ quantity * mark; call it in `EXACT_CONTEXT`."""
        equity = self._cash
        for position in self._positions.values():
            if position.quantity:
                equity += position.quantity * self._mark_of(position)
        return equity

    # -- read-only view ----------------------------------------------------------------

    @property
    def cash(self) -> Decimal:
        """Return the quote currency held."""
        return self._cash

    @property
    def positions(self) -> Mapping[str, Position]:
        """Return every position by symbol, closed ones included (read-only: do not apply)."""
        return MappingProxyType(self._positions)

    def open_positions(self) -> Iterator[Position]:
        """Yield the positions that hold something, by symbol."""
        return (self._positions[s] for s in sorted(self._positions) if self._positions[s].is_open)

    def position(self, symbol: str) -> Position | None:
        """Return the position in `symbol`, or None when it was never traded."""
        return self._positions.get(symbol)

    def quantity(self, symbol: str) -> Decimal:
        """Return the base-asset quantity held of `symbol` (0 when none)."""
        position = self._positions.get(symbol)
        return position.quantity if position else ZERO

    def mark_price(self, symbol: str) -> Decimal | None:
        """Return the latest mark of `symbol`, or None when it was never marked nor traded."""
        return self._marks.get(symbol)

    def market_value(self, symbol: str) -> Decimal:
        """Return quantity * mark of `symbol` (mark: the latest, else the average price)."""
        position = self._positions.get(symbol)
        return position.market_value(self._mark_of(position)) if position else ZERO

    @property
    @exact
    def positions_value(self) -> Decimal:
        """Return Σ quantity * mark over the open positions."""
        return self._equity() - self._cash

    @property
    def equity(self) -> Decimal:
        """Return cash + Σ quantity * mark (the equity last tracked, while nothing moved)."""
        return self._last_equity if self._tracked else self._marked_equity()

    @exact
    def _marked_equity(self) -> Decimal:
        return self._equity()

    @property
    def exposure(self) -> Decimal:
        """Return Σ |quantity * mark| (spot is long only, so the positions' value)."""
        return abs(self.positions_value)

    @property
    def exposure_fraction(self) -> Decimal:
        """Return exposure / equity, rounded to storage places (0 when equity <= 0)."""
        equity = self.equity
        return fraction(self.exposure, equity) if equity > 0 else ZERO

    @property
    @exact
    def realized_pnl(self) -> Decimal:
        """Return the PnL of every sell so far, net of every fee paid."""
        return sum((p.realized_pnl for p in self._positions.values()), ZERO)

    @property
    @exact
    def unrealized_pnl(self) -> Decimal:
        """Return Σ (mark - average price) * quantity over the open positions."""
        return sum((p.unrealized_pnl(self._mark_of(p)) for p in self.open_positions()), ZERO)

    @property
    @exact
    def total_pnl(self) -> Decimal:
        """Return equity - initial capital."""
        return self.equity - self.initial_capital

    @property
    def fees_paid(self) -> Decimal:
        """Return every fee paid, in the quote currency."""
        return self._fees

    @property
    def peak_equity(self) -> Decimal:
        """Return the highest equity seen at any update (the initial capital at first)."""
        return self._peak

    @property
    def max_drawdown(self) -> Decimal:
        """Return the largest (peak - equity) / peak seen at any update."""
        return self._max_drawdown

    @property
    @exact
    def current_drawdown(self) -> Decimal:
        """Return (peak - equity) / peak now (0 at or above the peak)."""
        return fall(self._peak, self.equity)

    @property
    def day(self) -> date | None:
        """Return the UTC day of the latest update (None before the first)."""
        return self._day

    @property
    def daily_drawdown(self) -> Decimal:
        """Return (day's peak - equity) / day's peak now (0 when that peak is not positive)."""
        return self._fall_today(self.equity)

    def _fall_today(self, equity: Decimal) -> Decimal:
        return fall(self._day_peak, equity)

    @property
    def daily_max_drawdown(self) -> Decimal:
        """Return the largest daily drawdown seen at any update of the current UTC day."""
        return self._day_worst

    def _mark_of(self, position: Position) -> Decimal:
        return self._marks.get(position.symbol, position.average_price)

    # -- checks and snapshots ------------------------------------------------------------

    @exact
    def reconcile(self) -> str | None:
        """Check the books add up; return what does not (None when everything does).

        Checks: cash against the ledger of fills, fees against the positions' fees,
        equity against cash + Σ quantity * mark, and equity - capital == realized + unrealized.
        """
        problems: list[str] = []
        ledger_cash = self.initial_capital - self._bought + self._sold - self._fees
        if self._cash != ledger_cash:
            problems.append(f"cash {self._cash} != {ledger_cash} from the fills")
        positions = self._positions.values()
        position_fees = sum((p.fees_paid for p in positions), ZERO)
        if position_fees != self._fees:
            problems.append(f"fees {self._fees} != {position_fees} paid by the positions")
        equity = self._cash + sum((p.market_value(self._mark_of(p)) for p in positions), ZERO)
        if equity != (marked := self._equity()):
            problems.append(f"equity {marked} != {equity} (cash + positions at their marks)")
        held = self._held or self._hold()
        unrealized = sum((p.unrealized_pnl(self._mark_of(p)) for p in held.positions), ZERO)
        pnl = sum((p.realized_pnl for p in positions), ZERO) + unrealized
        if equity - self.initial_capital != pnl:
            problems.append(
                f"equity - initial capital = {equity - self.initial_capital} but realized + "
                f"unrealized PnL = {pnl} (difference {equity - self.initial_capital - pnl})"
            )
        return "; ".join(problems) or None

    @exact
    def to_snapshot(
        self,
        ts: datetime,
        *,
        run_id: str | None,
        source: str = SNAPSHOT_SOURCE,
        event_id: str | None = None,
        ts_init: datetime | None = None,
        sequence: int = 0,
    ) -> PortfolioSnapshotTaken:
        """Return the portfolio as a `PortfolioSnapshotTaken` event at event time `ts`.

        Amounts are rounded to storage places once, from three quantities (cash, positions
        value, cost basis), so the row keeps equity == cash + positions_value and
        equity - capital == realized + unrealized exactly. `ts_init` defaults to `ts`.
        """
        held = self._held or self._hold()
        unrounded_equity = self._equity()
        cash = quantize(self._cash)
        value = quantize(unrounded_equity - self._cash)  # the positions' value
        cost = held.cost
        equity = cash + value
        values: dict[str, Any] = {
            "ts_event": ts,
            "ts_init": ts_init or ts,
            "source": source,
            "run_id": run_id,
            "cash": cash,
            "equity": equity,
            "positions_value": value,
            "realized_pnl": cash - quantize(self.initial_capital) + cost,
            "unrealized_pnl": value - cost,
            "exposure": value,
            "exposure_pct": fraction(value, equity) if equity > 0 else ZERO,
            "daily_drawdown": self._fall_today(unrounded_equity),
            "max_drawdown": self._max_drawdown,
            "positions": tuple(map(self._position_snapshot, held.positions, held.parts)),
            "sequence": sequence,
        }
        if event_id is not None:
            values["event_id"] = event_id
        amounts = [values[name] for name in _SNAPSHOT_AMOUNTS]
        if storable(*amounts) and min(amounts[-4:]) >= 0 and _plain_values(values):
            return trusted(PortfolioSnapshotTaken, **values)
        return PortfolioSnapshotTaken(**values)  # validation words what is out of range

    def _hold(self) -> _Held:
        """Work out (and keep until the next fill) what the snapshots take from the open
        positions and only a fill changes."""
        positions = tuple(self.open_positions())
        cost = quantize(sum((p.cost_basis for p in positions), ZERO))
        self._held = _Held(positions, cost, tuple(map(_fixed_part, positions)))
        return self._held

    def _position_snapshot(self, position: Position, fixed: _FixedPart) -> PositionSnapshot:
        """Return `position` as it stands at its mark, from its `fixed` part (in
        `EXACT_CONTEXT`)."""
        mark = self._marks.get(position.symbol)
        shown_mark = quantize(mark) if mark is not None else None
        unrealized = quantize(position.unrealized_pnl(self._mark_of(position)))
        values = {**fixed.values, "market_price": shown_mark or None, "unrealized_pnl": unrealized}
        if fixed.plain and storable(unrealized, shown_mark or ZERO):
            return trusted(PositionSnapshot, **values)
        return PositionSnapshot(**values)  # validation words what is out of range


@dataclass(frozen=True, slots=True)
class _FixedPart:
    """A position's snapshot fields that only a fill changes, and whether they are already
    what validation keeps."""

    values: dict[str, Any]
    plain: bool


@dataclass(frozen=True, slots=True)
class _Held:
    """What every snapshot until the next fill shares: the open positions by symbol, their
    cost basis at storage places and their fixed snapshot parts."""

    positions: tuple[Position, ...]
    cost: Decimal
    parts: tuple[_FixedPart, ...]


def _fixed_part(position: Position) -> _FixedPart:
    quantity, average = quantize(position.quantity), quantize(position.average_price)
    realized = quantize(position.realized_pnl)
    values = {
        "symbol": position.symbol,
        "quantity": quantity,
        "average_price": average,
        "realized_pnl": realized,
    }
    plain = (
        storable(quantity, average, realized)
        and min(quantity, average) >= 0
        and is_plain_symbol(position.symbol)
    )
    return _FixedPart(values, plain)


#: A snapshot's amounts, the signed ones first, then the four that are never negative.
_SNAPSHOT_AMOUNTS = (
    "cash",
    "equity",
    "positions_value",
    "realized_pnl",
    "unrealized_pnl",
    "exposure",
    "exposure_pct",
    "daily_drawdown",
    "max_drawdown",
)


def _plain_values(values: dict[str, Any]) -> bool:
    """Tell whether a snapshot's times, source, ids and sequence are already what
    validation keeps."""
    return (
        values["ts_event"].tzinfo is UTC
        and values["ts_init"].tzinfo is UTC
        and is_plain_code(values["source"])
        and all(is_plain_identifier(values.get(name) or "-") for name in ("event_id", "run_id"))
        and values["sequence"] >= 0
    )


def _checked_price(symbol: str, price: Decimal) -> Decimal:
    """Return `price` when it is a finite Decimal > 0; raise `InvalidMarkError` otherwise."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise InvalidMarkError(f"mark price for {symbol} must be a finite Decimal > 0 ({price!r})")
    return price
