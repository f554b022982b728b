"""`claire strategy list`: the strategies a papertest can run, and their parameters."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.context import state
from claire_cli.output import console, print_json
from engine.reports.jsonable import jsonable
from engine.strategy.catalog import StrategyInfo, strategy_catalog

app = typer.Typer(help="List the strategies a papertest can run, with their parameters.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("list")
def list_strategies(ctx: typer.Context, json: JsonOption = False) -> None:
    """List every registered strategy and the configured one, with their parameters.

    A parameter's value is the one a run started now would use (CLAIRE_STRATEGY_* for
    momentum, else the strategy's default); `claire papertest start --param KEY=VALUE`
    changes it for one run.

    Examples:
      claire strategy list
      claire strategy list --json
      CLAIRE_PAPERTEST_STRATEGY=mypackage.rules:Breakout claire strategy list
    """
    settings = state(ctx).settings()
    catalog = strategy_catalog(settings.papertest.strategy, settings.strategy)
    if json:
        print_json(
            [jsonable(vars(info) | {"params": [vars(p) for p in info.params]}) for info in catalog]
        )
        return
    for info in catalog:
        console.print(_render(info))


def _render(info: StrategyInfo) -> Table:
    mark = " [green](configured)[/]" if info.configured else ""
    table = Table(
        title=f"[bold]{escape(info.name)}[/]{mark}  {escape(info.where)}", title_justify="left"
    )
    for column in ("parameter", "value", "default", "allowed", "what it is"):
        table.add_column(column)
    for spec in info.params:
        value = info.values.get(spec.name, "")
        table.add_row(
            spec.name, str(value), str(spec.default), spec.allowed, escape(spec.description)
        )
    if not info.params:
        table.add_row("(none declared)", "", "", "", "")
    return table


def _as_json(info: StrategyInfo) -> dict[str, object]:
    return dict(jsonable({**vars(info), "params": [vars(spec) for spec in info.params]}))
