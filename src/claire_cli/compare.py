"""`claire papertest compare`: papertests side by side, each against the first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.arguments import JsonOption, formats_option
from claire_cli.context import database, state
from claire_cli.output import console, print_json, print_warning
from engine import reports

if TYPE_CHECKING:
    from engine.reports.compare import Comparison, Pair
    from engine.reports.render import Block
    from engine.runs.registry import Run
    from engine.settings import Settings


def compare(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Run ids (or unique prefixes); the first is the baseline, A."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Every run of a group, in the order it was started."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Directory (default HOME/comparisons/GROUP or RUN+RUN…)."),
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: html,md,json.")
    ] = ",".join(reports.FORMATS),
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Replay RUN's own recording at full speed and explain every difference.",
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="With --replay: replay again, though a replay with today's settings exists.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Compare papertests: their equity curves on one chart (return scale), their figures
    and verdicts in one table, their round trips matched by symbol and time, and each
    figure's difference from the first run with its bootstrap 95 % interval: is B better
    than A, or is it noise?

    Total return and Sharpe are resampled over the days both runs cover, in pairs; the
    round-trip figures over each run's round trips. A difference is better or worse only
    when its interval leaves 0 out, and never on fewer days than CLAIRE_VERDICT_MIN_DAYS.

    With --replay, one RUN (a live run records what it receives by default) is replayed from
    its recording through the same strategy, parameters and settings at full speed, and
    compared with it fill for fill: fills in one run only, at other prices or times, and the
    net PnL difference put down to its causes (latency and arrival price, slippage, partial
    or missing fills, outages and gaps, restarts, positions open at the end). Over recorded
    data without an outage the two agree trade for trade. A completed replay of RUN made
    with today's settings and code is compared again, not replayed again (--fresh does).

    Examples:
      claire papertest compare pt-20261207-1530-aa01 --replay
      claire papertest compare --group grp-20261207-1530
      claire papertest compare pt-20261207-1530-aa01 pt-20261207-1530-bb02 --format html
      claire papertest compare --group grp-20261207-1530 --json | jq '.pairs[0].differences'
    """
    from engine.reports.compare_write import write_comparison

    settings = state(ctx).settings()
    chosen = formats_option(formats, reports.FORMATS)
    if replay:
        _compare_with_replay(ctx, run_ids or [], group, out, chosen, json=json, fresh=fresh)
        return
    with console.status("computing every run's figures from the database"):
        database(settings).close()  # servers up, migrations current
        written = write_comparison(
            settings, run_ids or [], group=group, out_dir=out, formats=chosen
        )
    from engine.reports.compare_render import to_json

    comparison = written.comparison
    tables = [_table(comparison), *(_pair_table(comparison, p) for p in comparison.pairs)]
    _say(written.paths, comparison.warnings, to_json(comparison) if json else None, tables)


def _say(
    paths: Sequence[Path], warnings: Sequence[str], as_json: str | None, shown: Sequence[object]
) -> None:
    """A comparison's outcome: its JSON with the files written, or its warnings, what it
    shows and the files."""
    if as_json is not None:
        print_json({"files": [str(p) for p in paths], **_loads(as_json)})
        return
    for warning in warnings:
        print_warning(warning)
    for each in shown:
        console.print(each)
    for path in paths:
        console.print(f"written: {escape(str(path))}")


#: How long `compare --replay` waits for the replay (and its report) to end.
REPLAY_WAIT_S = 3_600.0


def _compare_with_replay(
    ctx: typer.Context,
    run_ids: list[str],
    group: str | None,
    out: Path | None,
    formats: list[str],
    *,
    json: bool,
    fresh: bool,
) -> None:
    from engine.errors import PermanentError
    from engine.reports.compare_write import write_replay_comparison
    from engine.reports.replay_render import blocks, to_json, verdict_line
    from engine.runs import service
    from engine.runs.registry import RunRepository

    if len(run_ids) != 1 or group is not None:
        raise PermanentError("--replay compares one run with its replay: give one run id")
    settings = state(ctx).settings()
    with database(settings) as conn:
        paper = RunRepository(conn).get(run_ids[0])
        earlier = None if fresh else service.earlier_replay(settings, conn, paper)
    if earlier is not None:
        replayed = earlier
        if not json:
            console.print(
                f"the replay {earlier.run_id} of today's settings and code (--fresh: again)"
            )
    else:
        replayed = _replayed(ctx, settings, paper)
    with console.status("comparing fill for fill"):
        written = write_replay_comparison(
            settings, paper.run_id, replayed.run_id, out_dir=out, formats=formats
        )
    comparison = written.comparison
    shown = [verdict_line(comparison), *(_as_table(b) for b in blocks(comparison)[1:3])]
    _say(written.paths, comparison.warnings, to_json(comparison) if json else None, shown)


def _replayed(ctx: typer.Context, settings: Settings, paper: Run) -> Run:
    """Replay `paper`'s recording at full speed and wait for the replay to end."""
    from engine.errors import PermanentError
    from engine.runs import service
    from engine.runs.hosts import engine_host

    with console.status(f"replaying the recording of {paper.run_id} at full speed"):
        replayed = service.replay_of(settings, paper, env_file=state(ctx).env_file)
        if not engine_host(settings).wait_for_exit(replayed, timeout=REPLAY_WAIT_S):
            raise PermanentError(
                f"the replay {replayed.run_id} did not end within an hour: it goes on",
                hint=f"claire papertest status {replayed.run_id}",
            )
    return replayed


def _loads(text: str) -> dict[str, object]:
    import json as json_module

    loaded: dict[str, object] = json_module.loads(text)
    return loaded


def _table(comparison: Comparison) -> Table | str:
    from engine.reports.compare_render import blocks

    return _as_table(blocks(comparison)[0])


def _pair_table(comparison: Comparison, pair: Pair) -> Table | str:
    """The pair's differences, without the column of what was resampled (it is in the files)."""
    from engine.reports.compare_render import blocks

    index = comparison.pairs.index(pair)
    return _as_table(blocks(comparison)[1 + 2 * index], keep=6)


def _as_table(block: Block, keep: int | None = None) -> Table | str:
    if not block.rows and block.note:  # an empty table says why it is empty
        return f"{escape(block.title)}: {escape(block.note)}"
    table = Table(title=block.title, title_justify="left", box=None, pad_edge=False)
    for column in block.header[:keep]:
        table.add_column(column, overflow="fold")
    for row in block.rows:
        table.add_row(*(escape(cell) for cell in row[:keep]))
    return table
