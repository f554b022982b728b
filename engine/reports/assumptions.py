"""What a report's figures assume, said plainly, and the caveats a reader must weigh.

The settings are those the run recorded when it started (`runs.settings`); a run
from before they were recorded is described with the current settings, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.durations import format_duration, plural
from engine.reports.metrics import decimal_seconds
from engine.runs.registry import Run, recorded_settings
from engine.settings import Settings, VerdictSettings
from engine.strategy.params import strategy_label

CURRENT_SETTINGS_NOTE = "(current settings: the run recorded none)"


@dataclass(frozen=True)
class RunSettings:
    """The settings a run's figures depend on, and whether the run recorded them."""

    values: dict[str, Any]
    recorded: bool

    def section(self, name: str) -> dict[str, Any]:
        value = self.values.get(name)
        return dict(value) if isinstance(value, dict) else {}

    def fraction(self, section: str, name: str) -> Decimal:
        return Decimal(str(self.section(section)[name]))


def run_settings(run: Run, current: Settings) -> RunSettings:
    """The settings `run` recorded, else the current ones (the same keys)."""
    if run.settings:
        return RunSettings(dict(run.settings), True)
    return RunSettings(recorded_settings(current), False)


@dataclass
class Assumptions:
    """The execution model, the data and the strategy, as sentences and as settings."""

    fill_model: str
    latency: str
    fees: str
    slippage: str
    data_source: str
    strategy: str
    settings_note: str | None
    execution: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, Any] = field(default_factory=dict)
    strategy_settings: dict[str, Any] = field(default_factory=dict)


def _pct(value: object) -> str:
    return f"{Decimal(str(value)) * 100:.4g} %"


def describe_source(run: Run) -> str:
    """The market data in plain words: synthetic, a recorded file, or live MEXC."""
    source = run.parameters.source
    if source == "synthetic":
        return (
            f"synthetic market (seeded random walk, seed {run.parameters.seed}, with jumps and"
            " gaps of a few minutes as when an exchange stalls): not real prices"
        )
    if source.startswith("replay:"):
        return f"recorded market data replayed from {source.removeprefix('replay:')}"
    if source == "mexc":
        return "live MEXC spot market data"
    return f"{source} ({run.data_source or 'unknown source'})"


def assumptions(run: Run, settings: RunSettings) -> Assumptions:
    """Say what the fills, fees, slippage, data and strategy were."""
    ex = settings.section("execution")
    latency = f"{ex.get('latency_ms', '?')} ms"
    fill_model = (
        "a market order decided at event time t fills at the first market price observable"
        f" after t + latency ({latency}): the next trade or quote; on candle-only data the"
        " open of the next candle, booked when that candle closes; plus slippage"
        f" min({ex.get('slippage_cap_bps')}, {ex.get('slippage_base_bps')} +"
        f" {ex.get('slippage_impact_bps')} x quantity / recent volume) bps; taker fee"
        f" {_pct(ex.get('taker_fee', 0))} of the fill's value; one fill takes at most"
        f" {_pct(ex.get('partial_fill_fraction', 0))} of recent volume, the rest fills on"
        " later market data. A limit order fills at its limit price as maker"
        f" ({_pct(ex.get('maker_fee', 0))} fee) when the market reaches it, and expires after"
        f" {ex.get('limit_order_ttl_seconds')} s."
    )
    return Assumptions(
        fill_model=fill_model,
        latency=f"{latency} from decision to the earliest fill",
        fees=f"taker {_pct(ex.get('taker_fee', 0))}, maker {_pct(ex.get('maker_fee', 0))}"
        f" (in {settings.values.get('quote_currency', 'the quote currency')})",
        slippage=f"min(cap {ex.get('slippage_cap_bps')} bps, base {ex.get('slippage_base_bps')}"
        f" bps + {ex.get('slippage_impact_bps')} bps x fill quantity / recent volume),"
        " against the trader",
        data_source=describe_source(run),
        strategy=_strategy(run.parameters.strategy, settings.section("strategy")),
        settings_note=None if settings.recorded else CURRENT_SETTINGS_NOTE,
        execution=ex,
        risk=settings.section("risk"),
        strategy_settings=settings.section("strategy"),
    )


def _strategy(name: str, parameters: dict[str, Any]) -> str:
    """`ema_cross (fast 12, slow 26)`: the strategy and the parameters it ran with."""
    return strategy_label(name, parameters)


@dataclass(frozen=True)
class CaveatFacts:
    """What the caveats are drawn from."""

    round_trips: int
    covered: timedelta
    partial_days: list[str]
    gaps: int
    missing_minutes: int
    restarts: int
    resumes: int
    stale_episodes: int
    downtime_seconds: float
    epochs: int
    outages: int
    outage_restarts: int
    without_decision_price: int
    reconciled: bool | None
    settings_recorded: bool


def caveats(run: Run, facts: CaveatFacts, rules: VerdictSettings) -> list[str]:
    """The reasons to trust the figures less, each one sentence."""
    notes: list[str] = []
    days = decimal_seconds(facts.covered) / 86_400
    if facts.round_trips < rules.min_round_trips or days < rules.min_days:
        notes.append(
            f"small sample: {facts.round_trips} round trips and"
            f" {format_duration(facts.covered)} of data, under the evidence"
            f" minimums ({rules.min_round_trips} round trips,"
            f" {rules.min_days} days): the figures are noise-dominated"
        )
    if run.parameters.source == "synthetic":
        notes.append("synthetic data: the prices are a seeded random walk, not a market")
    if facts.gaps or facts.missing_minutes:
        notes.append(
            f"data gaps: {plural(facts.gaps, 'hole')} in the market data,"
            f" {plural(facts.missing_minutes, 'minute')} missing (see Data gaps)"
        )
    if facts.stale_episodes:
        notes.append(f"stale data: {plural(facts.stale_episodes, 'episode')} (see Alerts)")
    if facts.restarts or facts.resumes or facts.epochs > 1 or facts.downtime_seconds:
        notes.append(
            f"restarts: {facts.resumes} resumes, {facts.restarts} stage restarts,"
            f" {facts.epochs} engine epochs; market time missed while the engine was down:"
            f" {facts.downtime_seconds:.0f} s (replayed and synthetic markets are played again)"
        )
    if facts.outages:
        notes.append(
            f"outages: {facts.outages} found by the supervisor, {facts.outage_restarts}"
            " restarts (see Outages)"
        )
    if facts.partial_days:
        notes.append(
            "partial days: "
            + ", ".join(facts.partial_days)
            + " cover less than 24 h; their daily returns are not full days"
        )
    if facts.without_decision_price:
        notes.append(
            f"{facts.without_decision_price} filled market orders have no decision price"
            " (stored before it was recorded): left out of the execution costs"
        )
    if facts.reconciled is False:
        notes.append("THE PnL DOES NOT RECONCILE: see the reconciliation line")
    if not facts.settings_recorded:
        notes.append(f"settings shown are the current ones {CURRENT_SETTINGS_NOTE}")
    return notes
