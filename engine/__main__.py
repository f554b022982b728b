"""The engine's processes: `python -m engine papertest RUN_ID` (one run's engine, local
runtime), `serve` (the engine container, Docker runtime; `--worker`: a worker of the local
runtime), `feed` (the shared live MEXC feed, local runtime), `supervise` (the local runtime's
supervisor).

Settings come from CLAIRE_ variables (and ./.env) as for `claire`; the engine talks to the
Redis and PostgreSQL those settings name.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from engine.errors import ClaireError
from engine.settings_check import load_settings

log = logging.getLogger("engine")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    papertest = commands.add_parser("papertest", help="run one papertest's engine to its end")
    papertest.add_argument("run_id", help="the papertest (registered by `claire papertest start`)")
    papertest.add_argument("--resume", action="store_true", help="continue a crashed run")
    papertest.add_argument("--env-file", type=Path, default=None, help="settings file")
    serve = commands.add_parser(
        "serve", help="the engine container: wait for papertests and run them (Docker runtime)"
    )
    serve.add_argument(
        "--worker",
        action="store_true",
        help="a worker of the local runtime: take the papertests that wait for one",
    )
    serve.add_argument(
        "--name",
        default=None,
        help="how the engine names itself in a run's control state (default: host and pid); "
        "an engine restarted under the same name takes its own run back at once",
    )
    serve.add_argument("--env-file", type=Path, default=None, help="settings file")
    feed = commands.add_parser(
        "feed", help="the shared live MEXC feed of every live papertest (local runtime)"
    )
    feed.add_argument("--env-file", type=Path, default=None, help="settings file")
    supervise = commands.add_parser(
        "supervise", help="restart claire's dead servers and a crashed engine (local runtime)"
    )
    supervise.add_argument("--env-file", type=Path, default=None, help="settings file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "papertest":
            return _run_papertest(args.run_id, args.resume, args.env_file)
        if args.command == "serve":
            from engine.engine_process.serve import EngineServer

            settings = load_settings(args.env_file)
            return EngineServer(settings, worker=args.worker, name=args.name).run()
        if args.command == "feed":
            return _feed(args.env_file)
        return _supervise(args.env_file)
    except ClaireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _run_papertest(run_id: str, resume: bool, env_file: Path | None) -> int:
    from engine.engine_process.run import PapertestEngine
    from engine.runs.logs import RunDayHandler

    settings = load_settings(env_file)
    engine = PapertestEngine(settings, run_id, resume=resume)
    handler = RunDayHandler(settings.home, run_id, engine.run_record.started_at)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(settings.log_level)
    try:
        outcome = engine.run()
    finally:
        handler.close()
    return 0 if outcome.status in ("completed", "stopped", "aborted") else 1


def _feed(env_file: Path | None) -> int:
    import asyncio

    from engine.marketdata.shared import FeedLock, FeedPublisher
    from engine.runtime.select import endpoints

    settings = load_settings(env_file)
    lock = FeedLock(settings.home)
    if not lock.take():
        log.info("a feed runs already for %s", settings.home)
        return 0
    try:
        where = endpoints(settings)
        asyncio.run(FeedPublisher(settings, where.database_conninfo, where.redis_url).run())
    finally:
        lock.release()
    return 0


def _supervise(env_file: Path | None) -> int:
    from engine.supervision.daemon import Supervisor

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    Supervisor(load_settings(env_file)).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
