"""Render a report as JSON, Markdown and one self-contained HTML file (charts inline)."""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.papertest.durations import format_duration
from engine.papertest.jsonable import jsonable
from engine.papertest.report.build import Report


def _pct(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{places}f} %"


def _num(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{places}f}"


def _span(value: timedelta | None) -> str:
    return "n/a" if value is None else format_duration(value)


def sections(report: Report) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report's tables as (title, [(label, value)]), shared by HTML and Markdown."""
    p, t, e, r = report.performance, report.trades, report.execution, report.run
    quote = "USDT"
    return [
        (
            "Performance",
            [
                ("Initial capital", f"{_num(p.initial_capital)} {quote}"),
                ("Final equity", f"{_num(p.final_equity)} {quote}"),
                ("Total return", _pct(p.total_return)),
                ("Buy and hold return", _pct(report.benchmark_return)),
                ("Annualised return", _pct(p.annualised_return)),
                ("Sharpe", _num(p.sharpe)),
                ("Sortino", _num(p.sortino)),
                ("Calmar", _num(p.calmar)),
                ("Max drawdown", _pct(p.max_drawdown)),
                ("Max drawdown duration", _span(p.max_drawdown_duration)),
                ("Time in market", _pct(p.time_in_market)),
                ("Length (event time)", _span(p.elapsed)),
            ],
        ),
        (
            "Trades",
            [
                ("Fills", str(t.fills)),
                ("Round trips", str(t.round_trips)),
                ("Still open", str(t.open_positions)),
                ("Win rate", _pct(t.win_rate)),
                ("Profit factor", _num(t.profit_factor)),
                ("Expectancy per round trip", f"{_num(t.expectancy, 4)} {quote}"),
                ("Average win", f"{_num(t.average_win, 4)} {quote}"),
                ("Average loss", f"{_num(t.average_loss, 4)} {quote}"),
                ("Average holding time", _span(t.average_holding)),
                ("Fills per day", _num(t.trades_per_day)),
                ("Net PnL of round trips", f"{_num(t.net_pnl, 4)} {quote}"),
                ("Fees paid", f"{_num(t.fees, 4)} {quote}"),
                ("Fees as share of gross PnL", _pct(t.fee_share_of_gross)),
            ],
        ),
        (
            "Execution quality",
            [
                ("Orders", str(e.orders)),
                ("Fill ratio", _pct(e.fill_ratio)),
                ("Partial fills", str(e.partial_fills)),
                *((f"Slippage {k} (bps)", _num(v, 3)) for k, v in e.slippage_bps.items()),
                *((f"Refused: {reason}", str(n)) for reason, n in e.rejections.items()),
            ],
        ),
        (
            "System",
            [(k.replace("_", " ").capitalize(), _plain(v)) for k, v in report.system.items()],
        ),
        (
            "Provenance",
            [
                ("Run", r.run_id),
                ("Name", r.name or "-"),
                ("Status", f"{r.status} ({r.end_reason or 'running'})"),
                ("Started", _when(r.started_at)),
                ("Ended", _when(r.ended_at)),
                ("Parameters", json.dumps(r.parameters.to_json(), sort_keys=True)),
                ("Data source", r.data_source or "-"),
                ("Settings hash", r.settings_hash or "-"),
                ("Code version", r.code_version or "-"),
            ],
        ),
    ]


def _result(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str) if value else "-"
    return str(value)


def to_json(report: Report) -> str:
    """Every figure, as JSON (decimals as strings)."""
    data = {
        "run": {
            **{k: v for k, v in vars(report.run).items() if k not in ("parameters", "extra")},
            "parameters": report.run.parameters.to_json(),
        },
        "performance": vars(report.performance),
        "benchmark_return": report.benchmark_return,
        "trades": vars(report.trades),
        "execution": vars(report.execution),
        "system": report.system,
        "verdict": {"go": report.go, "criteria": [vars(c) for c in report.verdict]},
        "alerts": report.alerts,
        "gaps": report.gaps,
    }
    return json.dumps(jsonable(data), indent=2, sort_keys=True, default=str) + "\n"


def to_markdown(report: Report) -> str:
    """The report as Markdown, with the charts as PNG files beside it."""
    run = report.run
    lines = [f"# Papertest {run.run_id}" + (f" — {run.name}" if run.name else ""), ""]
    lines += [f"**Verdict: {'GO' if report.go else 'NO-GO'}**", ""]
    lines += ["| criterion | rule | value | result |", "|---|---|---|---|"]
    lines += [
        f"| {c.name} | {c.rule} | {c.value} | {'pass' if c.passed else 'FAIL'} |"
        for c in report.verdict
    ]
    for name in report.charts:
        lines += ["", f"![{name}]({name}.png)"]
    for title, rows in sections(report):
        lines += ["", f"## {title}", "", "| | |", "|---|---|"]
        lines += [f"| {label} | {value} |" for label, value in rows]
    lines += ["", "## Data gaps", ""]
    lines += [
        f"- {g['symbol']} {g['cause']}: {_when(g['gap_start'])} → {_when(g['gap_end'])}"
        f" ({g['missing']} missing, {g['backfilled']} back-filled)"
        for g in report.gaps
    ]
    lines += ["" if report.gaps else "none", "", "## Alerts", ""]
    lines += [
        f"- {_when(a['ts_event'])} {a['level']} {a['code']}: {a['message']}" for a in report.alerts
    ] or ["none"]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1060px;
color:#222}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.92rem}td,th{padding:.25rem .8rem;border-bottom:1px solid
#eee;text-align:left}.go{color:#1a7f37}.nogo{color:#cf222e}img{max-width:100%;display:block;
margin:1rem 0}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
"""


def to_html(report: Report) -> str:
    """One self-contained HTML file: charts embedded, opens offline."""
    run = report.run
    esc = html.escape
    verdict = "GO" if report.go else "NO-GO"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Papertest {esc(run.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Papertest {esc(run.run_id)}{' — ' + esc(run.name) if run.name else ''}</h1>",
        f"<p class='{'go' if report.go else 'nogo'}'><strong>Verdict: {verdict}</strong></p>",
        "<table><tr><th>criterion</th><th>rule</th><th>value</th><th>result</th></tr>",
        *(
            f"<tr><td>{esc(c.name)}</td><td>{esc(c.rule)}</td><td>{esc(c.value)}</td>"
            f"<td class='{_result(c.passed).lower()}'>{_result(c.passed)}</td></tr>"
            for c in report.verdict
        ),
        "</table>",
        *(
            f"<img alt='{esc(name)} chart' id='chart-{esc(name)}' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            for name, png in report.charts.items()
        ),
    ]
    for title, rows in sections(report):
        parts.append(f"<h2>{esc(title)}</h2><table>")
        parts += [f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>" for label, value in rows]
        parts.append("</table>")
    parts.append("<h2>Data gaps</h2>" + (_gap_table(report) if report.gaps else "<p>none</p>"))
    parts.append("<h2>Alerts</h2>" + (_alert_table(report) if report.alerts else "<p>none</p>"))
    parts.append("</body></html>\n")
    return "".join(parts)


def _gap_table(report: Report) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(g['symbol'])}</td><td>{html.escape(g['cause'])}</td>"
        f"<td>{_when(g['gap_start'])}</td><td>{_when(g['gap_end'])}</td>"
        f"<td>{g['missing']}</td><td>{g['backfilled']}</td></tr>"
        for g in report.gaps
    )
    head = "".join(
        f"<th>{name}</th>" for name in ("symbol", "cause", "from", "to", "missing", "back-filled")
    )
    head = f"<tr>{head}</tr>"
    return f"<table>{head}{rows}</table>"


def _alert_table(report: Report) -> str:
    rows = "".join(
        f"<tr><td>{_when(a['ts_event'])}</td><td>{html.escape(a['level'])}</td>"
        f"<td>{html.escape(a['code'])}</td><td>{html.escape(a['message'])}</td></tr>"
        for a in report.alerts
    )
    return f"<table><tr><th>when</th><th>level</th><th>code</th><th>message</th></tr>{rows}</table>"
