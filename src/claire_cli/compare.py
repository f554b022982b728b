"""`claire papertest compare`: papertests side by side, each against the first."""

from __future__ import annotations

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
    json: JsonOption = False,
) -> None:
    """Compare papertests: their equity curves on one chart (return scale), their figures
    and verdicts in one table, their round trips matched by symbol and time, and each
    figure's difference from the first run with its bootstrap 95 % interval: is B better
    than A, or is it noise?

    Total return and Sharpe are resampled over the days both runs cover, in pairs; the
    round-trip figures over each run's round trips. A difference is better or worse only
    when its interval leaves 0 out, and never on fewer days than CLAIRE_VERDICT_MIN_DAYS.

    Examples:
      claire papertest compare --group grp-20261207-1530
      claire papertest compare pt-20261207-1530-aa01 pt-20261207-1530-bb02 --format html
      claire papertest compare --group grp-20261207-1530 --json | jq '.pairs[0].differences'
    """
    from engine.reports.compare_write import write_comparison

    settings = state(ctx).settings()
    chosen = formats_option(formats, reports.FORMATS)
    with console.status("computing every run's figures from the database"):
        database(settings).close()  # servers up, migrations current
        written = write_comparison(
            settings, run_ids or [], group=group, out_dir=out, formats=chosen
        )
    comparison = written.comparison
    if json:
        from engine.reports.compare_render import to_json

        print_json({"files": [str(p) for p in written.paths], **_loads(to_json(comparison))})
        return
    for warning in comparison.warnings:
        print_warning(warning)
    console.print(_table(comparison))
    for pair in comparison.pairs:
        console.print(_pair_table(comparison, pair))
    for path in written.paths:
        console.print(f"written: {escape(str(path))}")


def _loads(text: str) -> dict[str, object]:
    import json as json_module

    loaded: dict[str, object] = json_module.loads(text)
    return loaded


def _table(comparison: Comparison) -> Table:
    from engine.reports.compare_render import blocks

    return _as_table(blocks(comparison)[0])


def _pair_table(comparison: Comparison, pair: Pair) -> Table:
    """The pair's differences, without the column of what was resampled (it is in the files)."""
    from engine.reports.compare_render import blocks

    index = comparison.pairs.index(pair)
    return _as_table(blocks(comparison)[1 + 2 * index], keep=6)


def _as_table(block: Block, keep: int | None = None) -> Table:
    table = Table(title=block.title, title_justify="left", box=None, pad_edge=False)
    for column in block.header[:keep]:
        table.add_column(column, overflow="fold")
    for row in block.rows:
        table.add_row(*(escape(cell) for cell in row[:keep]))
    return table
