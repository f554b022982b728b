"""Helpers shared by the tests: the `claire` command, waiting for a condition, building
settings, checking a run lost nothing."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from typer.testing import CliRunner

from claire_cli.app import app
from engine.runtime.local import LocalRuntime

T = TypeVar("T")


def claire(*args: str, expect: int | None = 0) -> Any:
    """Run `claire ARGS` in this process; a crash is raised, the exit code checked."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def eventually(
    check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Call `check` until it returns a truthy value (returned) or raise after `timeout`.

    An AssertionError raised by `check` counts as "not yet"; the last one is re-raised.
    """
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            if last_error is not None:
                raise last_error
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(interval)


@contextmanager
def scratch_database(
    runtime: LocalRuntime, prefix: str = "t", template: str | None = None
) -> Iterator[str]:
    """Create a database (empty, or cloned from `template`), yield its name, then drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = runtime.postgres.conninfo("postgres")
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def referenced_metrics() -> set[str]:
    """Every metric name an alert rule or a dashboard panel queries."""
    from engine.observability import dashboards, rules
    from engine.settings import Settings

    exprs = [r["expr"] for g in rules.alert_rules(Settings())["groups"] for r in g["rules"]]
    for model in dashboards.dashboards().values():
        exprs += [t["expr"] for panel in model["panels"] for t in panel["targets"]]
    names: set[str] = set()
    for expr in exprs:
        names |= set(re.findall(r"\b(claire_[a-z_]+)", expr))
    return names


def unexported_metrics(exported: set[str]) -> list[str]:
    """The referenced metric families missing from `exported` (counters may carry _total)."""
    families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in referenced_metrics()}
    return sorted(
        n
        for n in families
        if n not in exported
        and f"{n}_total" not in exported
        and n.removesuffix("_total") not in exported
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1, below the ephemeral range (so no outgoing connection
    takes it between now and the server binding it)."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


Query = Callable[..., list[tuple[Any, ...]]]


def assert_nothing_lost(query: Query, run_id: str, symbols: Sequence[str]) -> None:
    """A run that ended kept every minute of market data once, snapshotted every minute
    once, settled every order, stored no trade twice and dead-lettered nothing.

    `query(sql, *params)` returns the rows of `sql` in the run's database.
    """
    ((started, ended, source),) = query(
        "SELECT event_start, event_end, data_source FROM runs WHERE run_id = %s", run_id
    )
    minutes = int((ended - started) / timedelta(minutes=1))
    candles = query(
        "SELECT symbol, COUNT(*), COUNT(DISTINCT open_time) FROM candles"
        " WHERE source = %s AND open_time >= %s AND open_time < %s"
        " GROUP BY symbol ORDER BY symbol",
        source,
        started,
        ended,
    )
    assert [(s, n) for s, n, _ in candles] == [(s, minutes) for s in sorted(symbols)]
    assert all(n == distinct for _, n, distinct in candles)
    ((snapshots, distinct_minutes),) = query(
        "SELECT COUNT(*), COUNT(DISTINCT date_trunc('minute', \"timestamp\"))"
        " FROM portfolio_snapshots WHERE run_id = %s AND event_id LIKE '%%-minute'",
        run_id,
    )
    assert snapshots == distinct_minutes >= minutes, (
        f"{snapshots} minute snapshots over {distinct_minutes} distinct minutes,"
        f" for a run of {minutes} minutes"
    )
    ((trades, distinct_trades, orphans),) = query(
        "SELECT COUNT(*), COUNT(DISTINCT trade_id),"
        " COUNT(*) FILTER (WHERE order_id NOT IN (SELECT order_id FROM orders))"
        " FROM trades WHERE run_id = %s",
        run_id,
    )
    assert trades == distinct_trades
    assert orphans == 0
    ((open_orders,),) = query(
        "SELECT COUNT(*) FROM orders WHERE run_id = %s"
        " AND status IN ('submitted', 'accepted', 'partially_filled')",
        run_id,
    )
    assert open_orders == 0
    ((letters,),) = query("SELECT COUNT(*) FROM dead_letters WHERE payload LIKE %s", f"%{run_id}%")
    assert letters == 0
