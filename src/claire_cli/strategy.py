"""`claire strategy list/new/check`: the strategies a papertest can run and their parameters,
a new strategy with its test, and a strategy played through the paper pipeline at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.arguments import JsonOption
from claire_cli.context import state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_error, print_json
from engine.atomic import write_atomically
from engine.engine_process.strategy_check import CheckResult, check_strategy
from engine.errors import PermanentError
from engine.reports.jsonable import jsonable
from engine.strategy.catalog import StrategyInfo, strategy_catalog
from engine.strategy.params import configured_params, given_params
from engine.strategy.scaffold import class_name, scaffold

app = typer.Typer(
    help="List the strategies with their parameters, write a new one, or check one at full speed.",
    no_args_is_help=True,
)


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
    catalog = strategy_catalog(
        settings.papertest.strategy,
        settings.strategy,
        configured_params(settings.papertest.strategy_params),
    )
    if json:
        print_json(
            [jsonable(vars(info) | {"params": [vars(p) for p in info.params]}) for info in catalog]
        )
        return
    for info in catalog:
        console.print(_render(info))


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The strategy's module name, e.g. my_breakout.")],
    out: Annotated[Path, typer.Option(help="Where to write its two files.")] = Path("."),
) -> None:
    """Write a new strategy (its parameters, two indicators, 15-minute bars) and its test.

    The test runs at once (python -m pytest test_NAME.py, from the folder written); a file
    that exists already is never overwritten.

    Examples:
      claire strategy new my_breakout
      claire strategy new mean_reversion --out strategies/
    """
    files = scaffold(name)
    taken = [out / f for f in files if (out / f).exists()]
    if taken:
        raise PermanentError(f"{taken[0]} exists already", hint="choose another name or --out")
    out.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        write_atomically(out / filename, text.encode())
        console.print(f"wrote {escape(str(out / filename))}")
    code = f"{name}:{class_name(name)}"
    console.print(as_typed(f"next: cd {out} && claire strategy check {code}"))


@app.command()
def check(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Argument(help="A registered name or a dotted path.")],
    source: Annotated[
        str, typer.Option(help="synthetic, or replay:FILE (a recording).")
    ] = "synthetic",
    days: Annotated[int, typer.Option(min=1, max=365, help="Days of synthetic market.")] = 1,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols.")] = "BTCUSDT,ETHUSDT",
    param: Annotated[
        list[str] | None, typer.Option(help="A strategy parameter, key=value (repeat it).")
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option(
            help="A TOML file of parameters (--param wins over it; both win over"
            " CLAIRE_STRATEGY_PARAMS)."
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Run a strategy through the paper pipeline at full speed, storing nothing; print its
    signals, orders, round trips and every exception it raised (exit 1 if it raised).

    Examples:
      claire strategy check momentum --days 3
      claire strategy check examples.strategies.ema_cross:EmaCross --param fast=8
      claire strategy check mypackage.rules:Breakout --source replay:btc.parquet
    """
    settings = state(ctx).settings()
    result = check_strategy(
        settings, strategy,
        given_params(param or [], params, configured=settings.papertest.strategy_params),
        symbols=[s.strip().upper() for s in symbols.split(",") if s.strip()],
        days=days, replay=_replay(source),
    )  # fmt: skip
    if json:
        print_json(_check_json(result))
    else:
        _render_check(result)
    if not result.ok:
        raise typer.Exit(1)


def _replay(source: str) -> Path | None:
    kind, _, path = source.partition(":")
    if kind == "synthetic" and not path:
        return None
    if kind == "replay" and path:
        return Path(path).expanduser()
    raise typer.BadParameter(f"{source!r} is not synthetic or replay:FILE", param_hint="--source")


def _render_check(result: CheckResult) -> None:
    console.print(
        f"[bold]{escape(result.strategy)}[/]: {result.market_events:,} market events,"
        f" {len(result.signals)} signals, {len(result.orders)} orders, {len(result.fills)} fills,"
        f" {len(result.round_trips)} round trips"
    )
    for signal in result.signals[:20]:
        console.print(
            f"  {signal.ts_event:%Y-%m-%d %H:%M} {signal.symbol} {signal.side}"
            f" at {signal.reference_price}: {escape(signal.reason or '')}"
        )
    if len(result.signals) > 20:
        console.print(f"  ... and {len(result.signals) - 20} more (--json lists all)")
    for trip in result.round_trips[:20]:
        console.print(
            f"  round trip {trip.symbol} {trip.opened:%m-%d %H:%M} -> {trip.closed:%m-%d %H:%M}:"
            f" PnL {trip.pnl:,.2f} (fees {trip.fees:,.2f})"
        )
    for error in result.errors[:10]:
        print_error(error)
    if result.halted:
        print_error(result.halted)
    console.print("[green]ok[/]" if result.ok else f"[red]{len(result.errors)} exceptions[/]")


def _check_json(result: CheckResult) -> dict[str, object]:
    return dict(
        jsonable(
            {
                "strategy": result.strategy,
                "ok": result.ok,
                "market_events": result.market_events,
                "signals": [s.model_dump(mode="json") for s in result.signals],
                "orders": len(result.orders),
                "fills": len(result.fills),
                "round_trips": [vars(t) for t in result.round_trips],
                "errors": result.errors,
                "halted": result.halted,
            }
        )
    )


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
