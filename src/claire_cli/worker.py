"""`claire worker`: an engine that takes papertests from the database and runs them."""

from __future__ import annotations

import logging

import typer

from claire_cli.context import database, state
from claire_cli.output import console


def worker(ctx: typer.Context) -> None:
    """Take the papertests that wait for a worker and run them, one at a time, until Ctrl-C.

    With CLAIRE_PAPERTEST_ENGINES=workers, `claire papertest start` registers a run and
    leaves it to a worker: each worker takes the oldest waiting run (never two workers the
    same one), runs it to its end and takes the next. More workers run more papertests at
    once, on this machine or on another one whose settings name the same Redis and
    PostgreSQL (CLAIRE_REDIS_URL, CLAIRE_DATABASE_URL). A worker that dies leaves its run
    to the next worker free, 30 s after its last heartbeat, which resumes it from what the
    database holds. Ctrl-C (or SIGTERM) interrupts the run in hand: it stays running, for
    another worker.

    Examples:
      CLAIRE_PAPERTEST_ENGINES=workers claire worker
      CLAIRE_DATABASE_URL=postgresql://claire@db-host/claire \\
          CLAIRE_REDIS_URL=redis://db-host:6379/0 claire worker
    """
    from engine.engine_process.serve import EngineServer

    settings = state(ctx).settings()
    database(settings).close()  # the servers answer, the migrations are current
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    server = EngineServer(settings, worker=True)
    console.print(f"worker {server.name}: taking papertests (Ctrl-C ends it)")
    raise typer.Exit(server.run())
