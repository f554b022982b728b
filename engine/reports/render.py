"""Render a report as JSON, Markdown and one self-contained HTML file (charts inline).

HTML and Markdown show the same blocks (`blocks`): tables of label and value, and lists with
a header row (round trips, per-order costs, stages). JSON holds every figure, keys sorted,
decimals as exact strings, times as ISO 8601, durations in seconds.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from engine.durations import format_duration
from engine.reports.build import Report
from engine.reports.jsonable import jsonable

#: Bumped when a key of report.json changes meaning or goes away.
JSON_VERSION = 2


@dataclass(frozen=True)
class Block:
    """One titled part of the report: a table with a header row, or label/value pairs."""

    title: str
    rows: Sequence[tuple[str, ...]]
    header: tuple[str, ...] = ()
    note: str | None = None
    folded: bool = False  # HTML: inside <details> (long lists)


def pct(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{places}f} %"


def num(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{places}f}"


def signed(value: Decimal | None, places: int = 4) -> str:
    return "n/a" if value is None else f"{value:+,.{places}f}"


def _span(value: timedelta | None) -> str:
    return "n/a" if value is None else format_duration(value)


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _tiny(value: Decimal) -> str:
    """A difference that should be 0: 0 when it is, else in scientific notation."""
    return "0" if value.is_zero() else f"{value:+.2E}"


def _ratio(value: Decimal | None, basis: str) -> str:
    return "n/a" if value is None else f"{value:,.2f} ({basis})"


def blocks(report: Report) -> list[Block]:
    """The report's parts in reading order, shared by HTML and Markdown."""
    return [
        _performance(report),
        _reconciliation(report),
        _trades(report),
        _round_trips(report),
        _by_symbol(report),
        _open_positions(report),
        _costs(report),
        _order_costs(report),
        _execution(report),
        _exposure(report),
        _assumptions(report),
        _settings(report),
        _system(report),
        _outages(report),
        _stages(report),
        _provenance(report),
    ]


def _quote(report: Report) -> str:
    return str(report.settings.values.get("quote_currency") or "USDT")


def _performance(report: Report) -> Block:
    p, q = report.performance, _quote(report)
    boot = p.bootstrap
    rows = [
        ("Initial capital", f"{num(p.initial_capital)} {q}"),
        ("Final equity", f"{num(p.final_equity)} {q}"),
        ("Total PnL", f"{signed(p.total_pnl)} {q}"),
        ("Total return", pct(p.total_return, 3)),
        ("Buy and hold return", pct(report.benchmark_return, 3)),
        ("Annualised return", p.annualised_note or pct(p.annualised_return)),
        ("Sharpe", _ratio(p.sharpe, p.basis)),
        ("Sortino", _ratio(p.sortino, p.basis)),
        (
            "Probabilistic Sharpe ratio",
            "n/a (needs 3 daily returns with variation)"
            if p.psr is None
            else f"{p.psr:.4f} (P[true Sharpe > 0], daily returns; skewness {p.skewness},"
            f" kurtosis {p.kurtosis})",
        ),
        ("Calmar", p.annualised_note or num(p.calmar)),
    ]
    if boot is not None:
        level = f"{boot.confidence:.0%}"
        if boot.total_return is not None:
            i = boot.total_return
            rows.append(
                (
                    f"Total return, bootstrap {level} interval",
                    f"{pct(i.low, 3)} to {pct(i.high, 3)} ({i.samples} daily returns"
                    f" resampled {boot.resamples} times)",
                )
            )
        if boot.mean_round_trip_pnl is not None:
            i = boot.mean_round_trip_pnl
            rows.append(
                (
                    f"Mean round-trip PnL, bootstrap {level} interval",
                    f"{signed(i.estimate)} {q}: {signed(i.low)} to {signed(i.high)}"
                    f" ({i.samples} round trips resampled {boot.resamples} times)",
                )
            )
    rows += [
        ("Max drawdown", pct(p.max_drawdown, 3)),
        ("Max drawdown duration", _span(p.max_drawdown_duration)),
        ("Time in market", pct(p.time_in_market)),
        ("Length (event time)", _span(p.elapsed)),
        ("Daily returns", f"{len(p.daily)} UTC days ({len(p.partial_days)} partial)"),
    ]
    return Block("Performance", rows)


def _reconciliation(report: Report) -> Block:
    r, q = report.trades.reconciliation, _quote(report)
    if r is None:
        return Block("Reconciliation", [("", "no snapshot: nothing to reconcile")])
    line = (
        f"round trips {signed(r.round_trip_pnl)} + open positions {signed(r.open_pnl)}"
        f" = {signed(r.accounted)} {q}; final equity - capital = {signed(r.total_pnl)} {q};"
        f" difference {_tiny(r.difference)} {q}: "
        + ("reconciled" if r.reconciled else "DOES NOT RECONCILE")
    )
    return Block(
        "Reconciliation",
        [
            ("PnL", line),
            (
                "Snapshot's own split",
                f"realized {signed(r.snapshot_realized)} + unrealized"
                f" {signed(r.snapshot_unrealized)}; total - both = {_tiny(r.snapshot_difference)}"
                " (fees are inside realized PnL and the open position's cost)",
            ),
        ],
        note="Round-trip PnL and open-position PnL both include every fee paid.",
    )


def _trades(report: Report) -> Block:
    t, q = report.trades, _quote(report)
    return Block(
        "Trades",
        [
            ("Fills", str(t.fills)),
            ("Round trips", str(t.round_trips)),
            ("Wins / losses / break-even", f"{t.wins} / {t.losses} / {t.break_even}"),
            ("Still open", str(t.open_positions)),
            ("Win rate", pct(t.win_rate)),
            ("Profit factor", num(t.profit_factor)),
            ("Expectancy per round trip", f"{signed(t.expectancy)} {q}"),
            ("Average win", f"{signed(t.average_win)} {q}"),
            ("Average loss", f"{signed(t.average_loss)} {q}"),
            ("Average holding time", _span(t.average_holding)),
            ("Fills per day", num(t.trades_per_day)),
            ("Gross PnL of round trips", f"{signed(t.gross_pnl)} {q}"),
            ("Net PnL of round trips", f"{signed(t.net_pnl)} {q}"),
            (
                "Fees paid",
                f"{num(t.fees, 4)} {q} (round trips {num(t.round_trip_fees, 4)},"
                f" open positions {num(t.open_fees, 4)})",
            ),
            ("Fees as share of gross PnL", f"{pct(t.fee_share_of_gross)} ({t.fee_share_basis})"),
        ],
    )


def _round_trips(report: Report) -> Block:
    trips = report.trades.trips
    return Block(
        f"Round trips ({len(trips)})",
        [
            (
                t.symbol,
                when(t.opened),
                when(t.closed),
                f"{t.quantity:f}",
                num(t.entry_price, 4),
                num(t.exit_price, 4),
                signed(t.gross_pnl),
                num(t.fees, 4),
                signed(t.pnl),
                _span(t.holding),
            )
            for t in trips
        ],
        header=(
            "symbol",
            "entry",
            "exit",
            "quantity",
            "entry price",
            "exit price",
            "gross PnL",
            "fees",
            "net PnL",
            "held",
        ),
        folded=len(trips) > 20,
    )


def _by_symbol(report: Report) -> Block:
    return Block(
        "PnL per symbol",
        [
            (
                s.symbol,
                str(s.round_trips),
                signed(s.round_trip_pnl),
                signed(s.open_pnl),
                num(s.fees, 4),
                signed(s.total),
            )
            for s in report.trades.by_symbol
        ],
        header=("symbol", "round trips", "round-trip PnL", "open PnL", "fees", "total"),
    )


def _open_positions(report: Report) -> Block:
    return Block(
        "Open at the end",
        [
            (
                p.symbol,
                when(p.opened),
                f"{p.quantity:f}",
                num(p.average_price, 4),
                num(p.mark, 4),
                num(p.value, 4),
                num(p.fees, 4),
                signed(p.pnl),
                signed(p.realized_pnl),
                signed(p.unrealized_pnl),
            )
            for p in report.trades.open
        ],
        header=(
            "symbol",
            "opened",
            "quantity",
            "average price",
            "mark",
            "value",
            "fees",
            "PnL since flat",
            "realized",
            "unrealized",
        ),
        note=None if report.trades.open else "flat: nothing open",
    )


_COMPONENT_LABELS = {
    "delay": "delay (decision → arrival)",
    "slippage": "slippage (arrival → execution)",
    "fees": "fees",
    "total": "total",
}


def _costs(report: Report) -> Block:
    costs, q = report.execution.costs, _quote(report)
    if costs is None or not costs.measured:
        return Block("Decision-to-fill cost", [], note="no filled market order to measure")
    rows = []
    for key, label in _COMPONENT_LABELS.items():
        d = costs.distribution_bps[key]
        rows.append(
            (
                label,
                f"{signed(costs.totals[key])} {q}",
                num(costs.totals_bps[key], 3),
                *(num(d[s], 3) for s in ("mean", "p50", "p90", "p99", "max")),
            )
        )
    left_out = []
    if costs.without_decision_price:
        left_out.append(f"{costs.without_decision_price} without a decision price")
    if costs.limit_orders:
        left_out.append(f"{costs.limit_orders} limit orders")
    return Block(
        f"Decision-to-fill cost ({costs.measured} market orders, {num(costs.notional)} {q}"
        " at the decision price)",
        rows,
        header=("component", q, "bps of notional", "mean bps", "p50", "p90", "p99", "max"),
        note="Positive: money lost against the price the strategy saw when it signalled."
        + (f" Left out: {', '.join(left_out)}." if left_out else ""),
    )


def _order_costs(report: Report) -> Block:
    costs = report.execution.costs
    orders = costs.orders if costs is not None else []
    return Block(
        f"Cost per order ({len(orders)})",
        [
            (
                o.order_id,
                o.symbol,
                o.side,
                when(o.decided_at),
                num(o.decision_price, 4),
                f"{o.quantity:f}",
                *(num(o.bps[k], 2) for k in ("delay", "slippage", "fees", "total")),
                signed(o.total),
            )
            for o in orders
        ],
        header=(
            "order",
            "symbol",
            "side",
            "decided",
            "decision price",
            "quantity",
            "delay bps",
            "slippage bps",
            "fee bps",
            "total bps",
            "total",
        ),
        folded=True,
    )


def _execution(report: Report) -> Block:
    e = report.execution
    return Block(
        "Execution quality",
        [
            ("Orders", str(e.orders)),
            *(
                (f"{kind.capitalize()} orders", _outcomes(statuses))
                for kind, statuses in e.by_type.items()
            ),
            (
                "Filled / with fills / partly filled",
                f"{e.filled_orders} / {e.orders_with_fills} / {e.partial_fills}",
            ),
            ("Fill ratio (orders)", pct(e.fill_ratio)),
            ("Fill ratio (quantity)", pct(e.quantity_fill_ratio)),
            *((f"Slippage {k} (bps, fill by fill)", num(v, 3)) for k, v in e.slippage_bps.items()),
            *(
                (f"Cut short at the fill by the {kind} limit", f"{n} orders (rest cancelled)")
                for kind, n in e.cut_by_limits.items()
            ),
            *((f"Refused: {reason}", str(n)) for reason, n in e.rejections.items()),
        ],
    )


def _outcomes(statuses: dict[str, int]) -> str:
    """`12: 9 filled, 3 expired`: how many orders, and how they ended."""
    return f"{sum(statuses.values())}: " + ", ".join(
        f"{n} {status.replace('_', ' ')}" for status, n in statuses.items()
    )


def _exposure(report: Report) -> Block:
    x = report.exposure
    return Block(
        "Exposure against the limits",
        [
            (
                "Max exposure",
                f"{pct(x.max_exposure, 3)} at {when(x.max_exposure_at)}"
                f" (limit {pct(x.max_exposure_limit)})",
            ),
            (
                "Time above the exposure limit",
                f"{_span(x.time_above_exposure)} ({pct(x.share_above_exposure)} of the run)",
            ),
            (
                "Largest single position",
                f"{pct(x.max_position, 3)} at {when(x.max_position_at)}"
                f" (limit {pct(x.max_position_limit)})",
            ),
            (
                "Time above the position limit",
                f"{_span(x.time_above_position)} ({pct(x.share_above_position)} of the run)",
            ),
        ],
        note="Limits hold at every fill; a position can grow past them afterwards as prices"
        " move. Measured on the snapshots, time-weighted.",
    )


def _assumptions(report: Report) -> Block:
    a = report.assumptions
    rows = [
        ("Data", a.data_source),
        ("Fill model", a.fill_model),
        ("Latency", a.latency),
        ("Fees", a.fees),
        ("Slippage", a.slippage),
        ("Strategy", a.strategy),
    ]
    return Block("Assumptions", rows, note=a.settings_note)


def _settings(report: Report) -> Block:
    a = report.assumptions
    rows = [
        (f"{section}.{key}", _plain(value))
        for section, values in (
            ("strategy", a.strategy_settings),
            ("risk", a.risk),
            ("execution", a.execution),
        )
        for key, value in sorted(values.items())
    ]
    return Block("Settings of the run", rows, note=a.settings_note, folded=True)


def _system(report: Report) -> Block:
    return Block(
        "System",
        [
            (k.replace("_", " ").capitalize(), _plain(v))
            for k, v in report.system.items()
            if k not in {"stages", "outages", "missing_minutes_by_symbol"}
        ]
        + [
            (f"Missing minutes {symbol}", str(minutes))
            for symbol, minutes in (report.system.get("missing_minutes_by_symbol") or {}).items()
        ],
    )


def _outages(report: Report) -> Block:
    found: list[dict[str, Any]] = report.system.get("outages") or []
    return Block(
        "Outages",
        [
            (
                o["component"],
                str(o["began_at"]),
                str(o["ended_at"] or "still down"),
                "-" if o["downtime_seconds"] is None else f"{o['downtime_seconds']:.0f} s",
                str(o["restarts"]),
            )
            for o in found
        ],
        header=("component", "down since (wall clock)", "back at", "downtime", "restarts"),
        note=None if found else "none: no server or engine was found dead during the run",
    )


_STAGE_COLUMNS = ("events_in", "p50_ms", "p99_ms", "restarts", "dead_letters")


def _stages(report: Report) -> Block:
    stages: dict[str, dict[str, Any]] = report.system.get("stages") or {}
    lags = sorted({k for entry in stages.values() for k in entry if k.startswith("lag_")})
    columns = (*_STAGE_COLUMNS, *lags)
    return Block(
        "Stages",
        [
            (name, *(_plain(entry.get(c, "-")) for c in columns))
            for name, entry in sorted(stages.items())
        ],
        header=("stage", *(c.replace("_", " ") for c in columns)),
        note=None if stages else "no stage statistics recorded",
    )


def _provenance(report: Report) -> Block:
    r, pv = report.run, report.provenance
    return Block(
        "Provenance",
        [
            ("Run", r.run_id),
            ("Name", r.name or "-"),
            ("Status", f"{r.status} ({r.end_reason or 'running'})"),
            ("Started (wall clock)", when(pv.started_at)),
            ("Ended (wall clock)", when(pv.ended_at)),
            ("Market data from (event time)", when(pv.event_start)),
            ("Market data to (event time)", when(pv.event_end)),
            ("Planned end (event time)", when(pv.planned_event_end)),
            ("Parameters", json.dumps(r.parameters.to_json(), sort_keys=True)),
            ("Data source", r.data_source or "-"),
            ("Settings hash", r.settings_hash or "-"),
            ("Code version", r.code_version or "-"),
        ],
    )


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(jsonable(value), sort_keys=True, default=str) if value else "-"
    return str(value)


def _data(value: Any) -> Any:
    """Dataclasses as dicts (properties left out), enums by label, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return getattr(value, "label", value.name)
    if isinstance(value, dict):
        return {str(k): _data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_data(v) for v in value]
    return value


def to_json(report: Report) -> str:
    """Every figure, as JSON (decimals as exact strings, durations in seconds)."""
    run = report.run
    data = {
        "version": JSON_VERSION,
        "run": {
            **{k: v for k, v in vars(run).items() if k not in ("parameters", "extra")},
            "parameters": run.parameters.to_json(),
        },
        "verdict": {
            "outcome": report.verdict.label,
            "exit_code": int(report.verdict.outcome),
            "go": report.go,
            "reasons": report.verdict.reasons,
            "criteria": _data(report.verdict.criteria),
        },
        "performance": _data(report.performance),
        "trades": _data(report.trades),
        "execution": _data(report.execution),
        "exposure": _data(report.exposure),
        "benchmark": {
            "return": report.benchmark.total_return,
            "final_value": report.benchmark.final_value,
            "start": {
                s: {"open_time": t, "open": price}
                for s, (t, price) in report.benchmark.start.items()
            },
            "quantities": report.benchmark.quantities,
        },
        "provenance": _data(report.provenance),
        "assumptions": _data(report.assumptions),
        "settings": {"recorded": report.settings.recorded, **report.settings.values},
        "caveats": report.caveats,
        "system": report.system,
        "alerts": report.alerts,
        "gaps": report.gaps,
    }
    return json.dumps(jsonable(data), indent=2, sort_keys=True, default=str) + "\n"


def _verdict_lines(report: Report) -> list[str]:
    return [f"{report.verdict.label}: " + "; ".join(report.verdict.reasons)]


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """The report as Markdown, with the charts as PNG files beside it."""
    run = report.run
    lines = [f"# Papertest {run.run_id}" + (f" — {run.name}" if run.name else ""), ""]
    lines += [f"**Verdict: {line}**" for line in _verdict_lines(report)] + [""]
    lines += ["| criterion | kind | rule | value | result |", "|---|---|---|---|---|"]
    lines += [
        f"| {c.name} | {c.kind} | {md_cell(c.rule)} | {md_cell(c.value)} |"
        f" {'pass' if c.passed else 'FAIL'} |"
        for c in report.verdict.criteria
    ]
    if report.caveats:
        lines += ["", "## Caveats", ""] + [f"- {c}" for c in report.caveats]
    for name in report.charts:
        lines += ["", f"![{name}]({name}.png)"]
    for block in blocks(report):
        lines += ["", f"## {block.title}", ""]
        if block.note:
            lines += [block.note, ""]
        if not block.rows:
            continue
        header = block.header or ("", "")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in block.rows]
    lines += ["", "## Data gaps", ""]
    lines += [
        f"- {g['symbol']} {g['cause']}: {when(g['gap_start'])} → {when(g['gap_end'])}"
        f" ({g['missing']} missing, {g['backfilled']} back-filled)"
        for g in report.gaps
    ] or ["none"]
    lines += ["", "## Alerts", ""]
    lines += [
        f"- {when(a['ts_event'])} {a['level']} {a['code']}: {a['message']}" for a in report.alerts
    ] or ["none"]
    return "\n".join(lines) + "\n"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#222}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem .7rem;border-bottom:1px solid
#eee;text-align:left;vertical-align:top}th{background:#f6f8fa}img{max-width:100%;display:block;
margin:1rem 0}.pass,.go{color:#1a7f37}.fail,.nogo{color:#cf222e;font-weight:600}
.inconclusive{color:#9a6700;font-weight:600}.note{color:#555;font-size:.9rem}
summary{cursor:pointer;margin:.5rem 0}
"""

_VERDICT_CLASS = {0: "go", 1: "nogo", 2: "inconclusive"}


def html_block(block: Block) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(block.title)}</h2>"]
    if block.note:
        parts.append(f"<p class='note'>{esc(block.note)}</p>")
    if block.rows:
        table = ["<table>"]
        if block.header:
            table.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in block.header) + "</tr>")
        table += [
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
        ]
        table.append("</table>")
        body = "".join(table)
        if block.folded:
            body = f"<details><summary>show {len(block.rows)} rows</summary>{body}</details>"
        parts.append(body)
    return "".join(parts)


def to_html(report: Report) -> str:
    """One self-contained HTML file: charts embedded, opens offline."""
    run = report.run
    esc = html.escape
    verdict_class = _VERDICT_CLASS[int(report.verdict.outcome)]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Papertest {esc(run.run_id)}</title><style>{CSS}</style></head><body>",
        f"<h1>Papertest {esc(run.run_id)}{' — ' + esc(run.name) if run.name else ''}</h1>",
        *(
            f"<p class='{verdict_class}' id='verdict'><strong>Verdict: {esc(line)}</strong></p>"
            for line in _verdict_lines(report)
        ),
        "<table><tr><th>criterion</th><th>kind</th><th>rule</th><th>value</th><th>result</th></tr>",
        *(
            f"<tr><td>{esc(c.name)}</td><td>{esc(c.kind)}</td><td>{esc(c.rule)}</td>"
            f"<td>{esc(c.value)}</td><td class='{'pass' if c.passed else 'fail'}'>"
            f"{'pass' if c.passed else 'FAIL'}</td></tr>"
            for c in report.verdict.criteria
        ),
        "</table>",
    ]
    if report.caveats:
        parts.append(
            "<h2>Caveats</h2><ul>" + "".join(f"<li>{esc(c)}</li>" for c in report.caveats) + "</ul>"
        )
    parts += [
        f"<img alt='{esc(name)} chart' id='chart-{esc(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        for name, png in report.charts.items()
    ]
    parts += [html_block(block) for block in blocks(report)]
    parts.append("<h2>Data gaps</h2>" + (_gap_table(report) if report.gaps else "<p>none</p>"))
    parts.append("<h2>Alerts</h2>" + (_alert_table(report) if report.alerts else "<p>none</p>"))
    parts.append("</body></html>\n")
    return "".join(parts)


def _gap_table(report: Report) -> str:
    return html_block(
        Block(
            "",
            [
                (
                    str(g["symbol"]),
                    str(g["cause"]),
                    when(g["gap_start"]),
                    when(g["gap_end"]),
                    str(g["missing"]),
                    str(g["backfilled"]),
                )
                for g in report.gaps
            ],
            header=("symbol", "cause", "from", "to", "missing", "back-filled"),
        )
    ).removeprefix("<h2></h2>")


def _alert_table(report: Report) -> str:
    return html_block(
        Block(
            "",
            [
                (when(a["ts_event"]), str(a["level"]), str(a["code"]), str(a["message"]))
                for a in report.alerts
            ],
            header=("when", "level", "code", "message"),
        )
    ).removeprefix("<h2></h2>")
