"""Run one stage of the pipeline as its own process: `python -m engine run STAGE`.

Settings come from CLAIRE_ variables (and ./.env) as for `claire`; the stage talks to the
Redis and PostgreSQL those settings name. SIGTERM or SIGINT stops it after the current batch.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import psycopg

from engine.backup.marker import backup_time_reader
from engine.bus.redis_streams import ConsumerOptions, PatientPublisher, RedisStreamBus
from engine.errors import ClaireError
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.runtime.listeners import bind_monitor
from engine.runtime.prometheus_server import publish_target, withdraw_target
from engine.runtime.select import endpoints as runtime_endpoints
from engine.services.pipeline import STAGE_NAMES, build_pipeline
from engine.services.redis_runner import StageRunner, runners_health
from engine.settings import load_settings
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import load_run_state

log = logging.getLogger("engine")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one stage until stopped")
    run.add_argument("stage", choices=STAGE_NAMES)
    run.add_argument("--run-id", required=True, help="the papertest this stage works for")
    run.add_argument(
        "--monitor-port",
        type=int,
        default=None,
        help="port of /health and /metrics (default CLAIRE_MONITOR_PORT; 0: any free port; "
        "taken: a free port, logged)",
    )
    papertest = commands.add_parser("papertest", help="run one papertest's engine to its end")
    papertest.add_argument("run_id", help="the papertest (registered by `claire papertest start`)")
    papertest.add_argument("--resume", action="store_true", help="continue a crashed run")
    papertest.add_argument("--env-file", type=Path, default=None, help="settings file")
    serve = commands.add_parser(
        "serve", help="an engine container: wait for papertests and run them (Docker runtime)"
    )
    serve.add_argument(
        "--role",
        default="all",
        choices=("all", "controller", *STAGE_NAMES),
        help="all: the whole engine here; controller: the feed and the run's control; "
        "a stage name: that stage",
    )
    supervise = commands.add_parser(
        "supervise", help="restart claire's dead servers and a crashed engine (local runtime)"
    )
    supervise.add_argument("--env-file", type=Path, default=None, help="settings file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "papertest":
            return _run_papertest(args.run_id, args.resume, args.env_file)
        if args.command == "supervise":
            return _supervise(args.env_file)
        if args.command == "serve":
            from engine.papertest.serve import EngineServer

            return EngineServer(load_settings(), args.role).run()
        return _run_stage(args.stage, args.run_id, args.monitor_port)
    except ClaireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _run_papertest(run_id: str, resume: bool, env_file: Path | None) -> int:
    from engine.papertest.engine_run import PapertestEngine
    from engine.papertest.logs import RunDayHandler

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


def _supervise(env_file: Path | None) -> int:
    from engine.supervision.daemon import Supervisor

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    Supervisor(load_settings(env_file)).run(stop)
    return 0


def _run_stage(name: str, run_id: str, monitor_port: int | None) -> int:
    settings = load_settings()
    endpoints = runtime_endpoints(settings)
    bus = RedisStreamBus.from_url(
        endpoints.redis_url, settings.redis.namespace, maxlen=settings.redis.stream_maxlen
    )
    conn = psycopg.connect(endpoints.database_conninfo)
    # A restarted stage continues the run: positions, cash, high-water marks, halt.
    state = load_run_state(conn, run_id) if name != "persistence" else None
    writer = EventWriter(conn, endpoints.database_conninfo) if name == "persistence" else None
    metrics = EngineMetrics(run_id)
    stop = threading.Event()
    out = PatientPublisher(bus, stop)  # a stage's output waits out a Redis outage
    pipeline = build_pipeline(
        settings, out, run_id=run_id, writer=writer, state=state, metrics=metrics
    )
    stage = next(stage for stage in pipeline.stages if stage.name == name)
    on_dead_letter = pipeline.persistence.on_dead_letter if pipeline.persistence else None
    options = ConsumerOptions(
        claim_idle_ms=settings.redis.claim_idle_ms, max_deliveries=settings.redis.max_deliveries
    )
    runner = StageRunner(
        stage, bus, options=options, on_dead_letter=on_dead_letter, metrics=metrics
    )
    health = runners_health(
        name,
        [runner],
        stale_after_s=settings.market.stale_after_seconds,
        max_lag=settings.monitor.max_consumer_lag,
        probes={
            "redis": redis_probe(bus.client),
            "postgres": postgres_probe(endpoints.database_conninfo),
        },
    )
    metrics.watch_health(health.report)
    metrics.watch_backups(
        settings.backup_dir, backup_time_reader(bus.client, settings.redis.namespace)
    )
    port = settings.monitor.port if monitor_port is None else monitor_port
    monitor = bind_monitor(metrics.registry, health.report, settings.monitor.host, port).start()
    target = f"stage-{name}-{run_id}"
    publish_target(settings.home, target, monitor.address)
    log.info("stage %s: /health and /metrics on %s", name, monitor.url)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        runner.run(stop)
    finally:
        monitor.stop()
        withdraw_target(settings.home, target)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
