"""`claire data fetch/list/inspect`: recorded market data for replays."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from claire_cli.arguments import JsonOption
from claire_cli.context import state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json
from engine.marketdata.fetch import INTERVALS, FetchResult, fetch_history, window
from engine.marketdata.files import FileSummary, inspect_market_data, market_files
from engine.marketdata.mexc import MexcRest
from engine.settings import symbols_problem

app = typer.Typer(
    help="Download, list and inspect recorded market data (the replay source reads it).",
    no_args_is_help=True,
)


@app.command()
def fetch(
    ctx: typer.Context,
    symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. BTCUSDT ETHUSDT.")],
    interval: Annotated[
        str, typer.Option(help="Candle interval: 1m, 5m, 15m, 30m, 1h, 4h, 1d.")
    ] = "1m",
    days: Annotated[
        float, typer.Option(help="How many days back from now.", min=0.001, max=3650)
    ] = 7,
    out: Annotated[Path | None, typer.Option(help="File (.csv or .parquet) to write.")] = None,
    json: JsonOption = False,
) -> None:
    """Download candle history from MEXC into a file the replay source reads.

    Pages within MEXC's limits and resumes where an interrupted fetch stopped.

    Examples:
      claire data fetch BTCUSDT ETHUSDT --days 7
      claire data fetch BTCUSDT --days 30 --out btc-30d.parquet
      claire papertest start --source replay:btc-30d.parquet --speed max
    """
    if interval not in INTERVALS:
        raise typer.BadParameter(f"interval {interval!r}: choose from {', '.join(INTERVALS)}")
    names = [s.strip().upper() for s in symbols if s.strip()]
    problem = symbols_problem(names)
    if problem:  # before a request: MEXC would only say "invalid symbol"
        raise typer.BadParameter(problem, param_hint="SYMBOLS")
    settings = state(ctx).settings()
    days_text = f"{days:g}"
    path = out or settings.data_dir / f"{'_'.join(names)}-{interval}-{days_text}d.parquet"
    start, end = window(days, interval, datetime.now(UTC))
    result = _fetch_with_bars(settings.mexc.rest_url, names, interval, (start, end), path, json)
    if json:
        print_json(result.to_dict())
        return
    total = sum(result.rows.values())
    console.print(
        f"wrote {total:,} candles to {result.path} ({result.chunks_downloaded} chunks "
        f"downloaded, {result.chunks_reused} reused)"
    )


def _fetch_with_bars(
    rest_url: str,
    names: list[str],
    interval: str,
    span: tuple[datetime, datetime],
    path: Path,
    quiet: bool,
) -> FetchResult:
    """Fetch with a progress bar per symbol (none when `quiet`)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def shown(symbol: str, done: int, expected: int) -> None:
            if symbol not in tasks:
                tasks[symbol] = bar.add_task(symbol, total=expected)
            bar.update(tasks[symbol], completed=done)

        return asyncio.run(_fetch(rest_url, names, interval, *span, path, shown))


async def _fetch(
    rest_url: str,
    symbols: list[str],
    interval: str,
    start: datetime,
    end: datetime,
    path: Path,
    progress: Callable[[str, int, int], None],
) -> FetchResult:
    async with MexcRest(rest_url) as rest:
        return await fetch_history(
            rest,
            symbols,
            interval,  # type: ignore[arg-type]
            start=start,
            end=end,
            out=path,
            progress=progress,
        )


@app.command("list")
def list_files(ctx: typer.Context, json: JsonOption = False) -> None:
    """List the market data files in claire's data directory (CLAIRE_MARKET_DATA_DIR).

    Example: claire data list
    """
    directory = state(ctx).settings().data_dir
    entries = _entries(directory)
    if json:
        print_json(entries)
        return
    if not entries:
        console.print(
            escape(
                as_typed(f"no market data in {directory} — `claire data fetch BTCUSDT` gets some")
            )
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("file", "size", "modified"):
        table.add_column(column)
    for entry in entries:
        table.add_row(str(entry["path"]), _size(int(entry["bytes"])), str(entry["modified"]))
    console.print(table)


def _entries(directory: Path) -> list[dict[str, str | int]]:
    if not directory.exists():
        return []
    found: list[dict[str, str | int]] = []
    for path in sorted(directory.rglob("*")):
        if path.suffix.lower() in (".csv", ".parquet") and path.is_file():
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
            found.append({"path": str(path), "bytes": stat.st_size, "modified": modified})
    return found


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="A .csv or .parquet file, or a directory of them.")],
    json: JsonOption = False,
) -> None:
    """Show what a market data file holds: rows, time range and gaps per symbol.

    Exit code 1 when the file cannot be read (the reason names the row).

    Example: claire data inspect ~/.local/share/claire/data/btc-7d.parquet
    """
    market_files(path)  # a missing path or a wrong suffix fails before any reading
    with console.status(f"reading {path}"):
        summary = inspect_market_data(path)
    if json:
        print_json(summary.to_dict())
    else:
        _render(summary)


def _render(summary: FileSummary) -> None:
    console.print(f"[bold]{summary.path}[/] — {', '.join(summary.layouts)}, {summary.rows:,} rows")
    table = Table(box=None, pad_edge=False)
    for column in ("symbol", "rows", "from", "to", "gaps", "missing minutes"):
        table.add_column(column)
    for item in summary.symbols.values():
        table.add_row(
            item.symbol,
            f"{item.rows:,}",
            f"{item.first:%Y-%m-%d %H:%M}" if item.first else "-",
            f"{item.last:%Y-%m-%d %H:%M}" if item.last else "-",
            str(len(item.gaps)),
            str(item.missing_minutes),
        )
    console.print(table)
    for item in summary.symbols.values():
        for start, end, missing in item.gaps[:10]:
            console.print(
                f"[yellow]gap[/] {item.symbol} {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}"
                + (f" ({missing} candles missing)" if missing else "")
            )
