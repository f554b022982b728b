"""Several papertests at once: which runs a command means, and the view of them side by side.

A command given a run id means that run; `--group` means the runs of a group; neither means
the newest run, unless several run at once and the command would act on them (`stop`): then
it asks which (`--all`, `--group` or a run id).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from claire_cli.context import database
from claire_cli.output import console
from engine.errors import PermanentError
from engine.reports.summary import RunSummary, summarize
from engine.runs import service
from engine.runs.registry import Run, RunRepository
from engine.settings import Settings
from engine.strategy.params import params_text

#: How often a group's view is read again.
REFRESH_S = 2.0


def chosen(
    conn: psycopg.Connection[Any],
    run_id: str | None,
    group: str | None,
    *,
    every_active: bool = False,
) -> list[Run]:
    """The runs a command means (see the module docstring); `every_active` with neither a
    run nor a group: every running papertest (none running: the newest run)."""
    repo = RunRepository(conn)
    if run_id is not None and group is not None:
        raise PermanentError("give a run id or --group, not both")
    if group is not None:
        return repo.group(group)
    if run_id is not None:
        return [repo.get(run_id)]
    if every_active:
        return repo.active_runs() or [repo.get(None)]
    return [repo.get(None)]


def one_or_ask(conn: psycopg.Connection[Any], run_id: str | None, what: str) -> Run:
    """The run a command on one run means: the given one; else the only one running, else
    the newest; several running: the command asks which."""
    if run_id is not None:
        return RunRepository(conn).get(run_id)
    active = RunRepository(conn).active_runs()
    if len(active) > 1:
        names = ", ".join(run.run_id for run in active[:8])
        raise PermanentError(
            f"{len(active)} papertests are running ({names}): say which to {what}",
            hint=f"claire papertest {what} RUN, --group GROUP or --all",
        )
    return active[0] if active else RunRepository(conn).get(None)


def summaries(settings: Settings, runs: list[Run]) -> list[RunSummary]:
    with database(settings) as conn:
        repo = RunRepository(conn)
        latest = [repo.get(run.run_id) for run in runs]
        return [summarize(conn, r, settings, service.engine_state(settings, r)) for r in latest]


def side_by_side(rows: list[RunSummary]) -> Table:
    """One row a run: its strategy and parameters, state, progress and figures so far."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    longest = max((len(s.run.run_id) for s in rows), default=3)
    table.add_column("run", min_width=longest, overflow="fold")
    for column in ("strategy", "state"):
        table.add_column(column, overflow="fold")
    for column in ("done", "equity", "return", "max drawdown", "fills"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in rows:
        name = f"\n[dim]{escape(s.run.name)}[/]" if s.run.name else ""
        given = params_text(s.run.parameters.strategy_params)
        table.add_row(
            s.run.run_id + name,
            escape(short_strategy(s.run.parameters.strategy))
            + (f"\n[dim]{escape(given)}[/]" if given else ""),
            s.engine + (f"\n[dim]{escape(s.run.end_reason)}[/]" if s.run.end_reason else ""),
            f"{s.progress * 100:.0f} %",
            f"{s.equity:,.2f}",
            f"{s.total_return * 100:+.2f} %",
            f"{s.max_drawdown * 100:.2f} %",
            str(s.fills),
        )
    return table


def short_strategy(spec: str) -> str:
    """`EmaCross` for `examples.strategies.ema_cross:EmaCross`: the class, without its module."""
    return spec.rpartition(":")[2] if ":" in spec else spec.rpartition(".")[2]


def follow(settings: Settings, runs: list[Run], *, watch_line: bool = False) -> None:
    """Refresh the runs side by side until every one has ended (Ctrl-C leaves them running)."""
    rows = summaries(settings, runs)
    with contextlib.suppress(KeyboardInterrupt):
        if not console.is_terminal or watch_line:
            while True:
                for s in rows:
                    console.print(
                        f"{s.run.run_id} {s.engine}: {s.progress * 100:.0f} % done, equity"
                        f" {s.equity:,.2f} ({s.total_return * 100:+.2f} %), {s.fills} fills"
                    )
                if not any(s.run.running for s in rows):
                    return
                time.sleep(REFRESH_S)
                rows = summaries(settings, runs)
        with Live(side_by_side(rows), console=console, refresh_per_second=1) as live:
            while any(s.run.running for s in rows):
                time.sleep(REFRESH_S)
                rows = summaries(settings, runs)
                live.update(side_by_side(rows))
