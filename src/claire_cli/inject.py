"""`claire inject`: throw an edge case at a dedicated engine and check what it did."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.arguments import duration_option
from claire_cli.context import database, state
from claire_cli.output import console, print_json
from engine.inject.harness import Outcome, harness
from engine.inject.scenarios import SCENARIOS, Params

#: The longest `--duration` of an injection: a papertest's classic length.
LONGEST_INJECTION = timedelta(days=7)

app = typer.Typer(
    help="Publish edge cases into a dedicated engine (its own run id and streams) and verify "
    "the outcome in PostgreSQL and Redis. Exit code 1 when an expectation fails.",
    no_args_is_help=True,
)


@app.command("list")
def list_scenarios(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every scenario with what it does and what must come out.

    Example: claire inject list
    """
    if json:
        print_json(
            [
                {"name": s.name, "does": s.description, "expects": s.expected}
                for s in SCENARIOS.values()
            ]
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("scenario", "does", "expects"):
        table.add_column(column)
    for scenario in SCENARIOS.values():
        table.add_row(scenario.name, scenario.description, scenario.expected)
    console.print(table)


@app.command()
def clean(
    ctx: typer.Context,
    batch: Annotated[
        str | None, typer.Argument(help="One batch (default: every injected row).")
    ] = None,
) -> None:
    """Delete what injections stored (rows whose event id starts with `inject-`).

    Example: claire inject clean
    """
    from engine.inject.clean import clean_injected

    with database(state(ctx).settings()) as conn:
        removed = clean_injected(conn, batch)
    console.print(f"removed {removed:,} injected rows")


def _command(name: str) -> Callable[..., None]:
    scenario = SCENARIOS[name]

    def run(
        ctx: typer.Context,
        symbol: Annotated[str, typer.Option(help="Symbol of the injected events.")] = "BTCUSDT",
        count: Annotated[int, typer.Option(help="How many events.", min=1)] = 10,
        seed: Annotated[int, typer.Option(help="Seed of anything random.")] = 42,
        rate: Annotated[str, typer.Option(help="Events per second, or 100/min (load).")] = "100",
        duration: Annotated[
            str | None, typer.Option(help="How long (load): 10m; sets --count from --rate.")
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        per_second = parse_rate(rate)
        if duration is not None:
            span = duration_option(duration, "--duration", longest=LONGEST_INJECTION)
            count = max(1, int(per_second * span.total_seconds()))
        settings = state(ctx).settings()
        database(settings).close()  # servers up, migrations current
        with (
            console.status(f"{name}: publishing and waiting for the pipeline"),
            harness(scenario.prepare(settings), symbol=symbol.upper(), scenario=name) as h,
        ):
            outcome = scenario.run(h, Params(count=count, seed=seed, rate=per_second))
        if json:
            print_json(outcome.to_dict())
        else:
            _render(outcome)
        if not outcome.passed:
            raise typer.Exit(1)

    run.__doc__ = f"{scenario.description}: {scenario.expected}.\n\nExample: claire inject {name}"
    return run


def parse_rate(text: str) -> float:
    """`5`, `5/s`, `100/min`, `6000/h` -> events per second."""
    number, _, unit = text.strip().lower().partition("/")
    seconds = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}.get(unit)
    try:
        value = float(number)
    except ValueError:
        value = 0.0
    if seconds is None or not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"rate {text!r}: write e.g. 5, 5/s or 100/min")
    return value / seconds


def _render(outcome: Outcome) -> None:
    table = Table(title=f"{outcome.scenario} (batch {outcome.batch})", box=None, pad_edge=False)
    for column in ("expectation", "expected", "observed", "result"):
        table.add_column(column)
    for e in outcome.expectations:
        mark = "[green]pass[/]" if e.passed else "[red]FAIL[/]"
        table.add_row(e.name, escape(e.expected), escape(e.observed), mark)
    console.print(table)
    for key, value in outcome.figures.items():
        console.print(f"  {key}: {escape(str(value))}")


for _name in SCENARIOS:
    app.command(_name)(_command(_name))
