"""The `runs` table: every papertest, its parameters, provenance, and how it ended."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import SecretStr

from engine.errors import PermanentError
from engine.settings import Settings
from engine.storage.connection import like_literal

RunStatus = Literal["running", "completed", "stopped", "aborted", "failed"]
ENDED: tuple[RunStatus, ...] = ("completed", "stopped", "aborted", "failed")


class SourceSpecError(PermanentError):
    """A market source is not `mexc`, `synthetic` or `replay:PATH`."""


def check_source(spec: str) -> str:
    """Return the source spec normalised; raise SourceSpecError for an unknown one."""
    kind, _, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("mexc", "synthetic") and not path:
        return kind
    if kind == "replay" and path:
        return f"replay:{Path(path).expanduser().absolute()}"
    raise SourceSpecError(f"source {spec!r} is not mexc, synthetic or replay:PATH")


#: The longest run name: a name is for recognising a run in a table, not for notes.
LONGEST_RUN_NAME = 200


class RunNameError(PermanentError):
    """A run name that claire cannot show as it is."""


def check_run_name(name: str) -> str:
    """Return `name`, or raise RunNameError when it holds a control character (an escape
    sequence would reach the terminal, a line break would break every table) or is longer
    than LONGEST_RUN_NAME characters."""
    for position, char in enumerate(name, 1):
        if not char.isprintable():
            raise RunNameError(
                f"the run name holds the control character {char!r} (character {position})",
                hint="name the run with printable characters only",
            )
    if len(name) > LONGEST_RUN_NAME:
        raise RunNameError(
            f"the run name is {len(name)} characters long; at most {LONGEST_RUN_NAME}",
            hint="a short name to recognise the run by; notes belong elsewhere",
        )
    return name


class RunNotFoundError(PermanentError):
    """No papertest matches."""


class RunActiveError(PermanentError):
    """As many papertests run as may run at once."""


@dataclass(frozen=True)
class RunParameters:
    """What a user asked for at `claire papertest start`."""

    duration: str
    capital: Decimal
    symbols: tuple[str, ...]
    source: str  # mexc | synthetic | replay:PATH
    speed: str  # realtime | max | N
    strategy: str
    record: bool = False
    seed: int = 42
    #: The strategy's own parameters as given (`--param`, `--params FILE`), as text.
    strategy_params: dict[str, str] = field(default_factory=dict)
    #: The folder a strategy of the user's own module was imported from (the working
    #: directory of `claire papertest start`): an engine started elsewhere (a supervisor's
    #: resume) imports it from there too. None: claire's own strategies and examples.
    strategy_dir: str | None = None
    #: The market's warm-up in minutes when the run's group asked for one (the longest of its
    #: strategies'), so that every run of a group trades the same minutes of one market.
    #: None: the strategy's own.
    warmup_minutes: int | None = None
    #: The run waits for a worker to take it (`claire worker`, CLAIRE_PAPERTEST_ENGINES=
    #: workers) instead of `claire papertest start` starting an engine process for it.
    queued: bool = False

    def market_warmup(self, own: timedelta) -> timedelta:
        """The warm-up the run's market starts with: the group's, else the strategy's `own`."""
        return own if self.warmup_minutes is None else timedelta(minutes=self.warmup_minutes)

    def to_json(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "capital": str(self.capital),
            "symbols": list(self.symbols),
            "source": self.source,
            "speed": self.speed,
            "strategy": self.strategy,
            "record": self.record,
            "seed": self.seed,
            "strategy_params": dict(sorted(self.strategy_params.items())),
            **({"strategy_dir": self.strategy_dir} if self.strategy_dir else {}),
            **({"warmup_minutes": self.warmup_minutes} if self.warmup_minutes is not None else {}),
            **({"queued": True} if self.queued else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunParameters:
        return cls(
            duration=str(data["duration"]),
            capital=Decimal(str(data["capital"])),
            symbols=tuple(data["symbols"]),
            source=str(data["source"]),
            speed=str(data["speed"]),
            strategy=str(data["strategy"]),
            record=bool(data.get("record", False)),
            seed=int(data.get("seed", 42)),
            strategy_params={
                str(k): str(v) for k, v in (data.get("strategy_params") or {}).items()
            },
            strategy_dir=str(data["strategy_dir"]) if data.get("strategy_dir") else None,
            warmup_minutes=(
                int(data["warmup_minutes"]) if data.get("warmup_minutes") is not None else None
            ),
            queued=bool(data.get("queued", False)),
        )


@dataclass(frozen=True)
class Run:
    """One row of `runs`."""

    run_id: str
    name: str | None
    status: RunStatus
    parameters: RunParameters
    settings_hash: str | None
    code_version: str | None
    data_source: str | None
    started_at: datetime
    planned_end: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    initial_capital: Decimal
    #: Event time of the first and last market data the run played (wall clock is above).
    event_start: datetime | None = None
    event_end: datetime | None = None
    #: The settings the run's figures depend on, recorded at its start (None before 0007).
    settings: dict[str, Any] | None = field(default=None, compare=False)
    #: The group of runs started together (None: started alone), and the run's place in it
    #: (from 1, as the start listed it).
    group_id: str | None = None
    group_index: int | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


_COLUMNS = (
    "run_id, name, status, parameters, settings_hash, code_version, data_source, started_at, "
    "planned_end, ended_at, end_reason, initial_capital, event_start, event_end, settings, "
    "group_id, group_index"
)


def new_run_id(now: datetime) -> str:
    """Return a sortable, readable run id: `pt-20261124-0312-3f9a`."""
    return f"pt-{now:%Y%m%d-%H%M}-{uuid.uuid4().hex[:4]}"


def new_group_id(now: datetime) -> str:
    """Return the id of a group of runs started together: `grp-20261124-0312-3f9a`."""
    return f"grp-{now:%Y%m%d-%H%M}-{uuid.uuid4().hex[:4]}"


def settings_hash(settings: Settings, strategy_params: dict[str, str] | None = None) -> str:
    """Return a sha256 of the settings (and of the strategy's parameters given at start)
    with every secret left out."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "<secret>"
        if isinstance(value, dict):
            return {k: plain(v) for k, v in sorted(value.items())}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return str(value) if not isinstance(value, bool | int | type(None)) else value

    data = plain(settings.model_dump())
    if strategy_params:
        data["strategy_params"] = dict(sorted(strategy_params.items()))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def recorded_settings(
    settings: Settings, strategy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings a run's figures depend on, recorded with the run for its report;
    `strategy` is the parameters its strategy runs with (None: the momentum settings)."""
    return {
        "execution": settings.execution.model_dump(mode="json"),
        "risk": settings.risk.model_dump(mode="json"),
        "strategy": (
            settings.strategy.model_dump(mode="json") if strategy is None else dict(strategy)
        ),
        "stale_after_seconds": settings.market.stale_after_seconds,
        "snapshot_seconds": settings.papertest.snapshot_seconds,
        "quote_currency": settings.papertest.quote_currency,
    }


def code_version() -> str:
    """Return claire's version, with the git commit when running from a checkout."""
    from engine import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{commit}" if commit else __version__


#: How many papertests may run at once unless CLAIRE_PAPERTEST_MAX_ACTIVE says otherwise.
DEFAULT_MAX_ACTIVE = 8  # the default of `PapertestSettings.max_active`


class RunRepository:
    """Read and write `runs` through one autocommit connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def create(self, run: Run, *, max_active: int = DEFAULT_MAX_ACTIVE) -> Run:
        """Insert `run`; refuse when it would make more than `max_active` run at once."""
        return self.create_all([run], max_active=max_active)[0]

    def create_all(
        self, every: Sequence[Run], *, max_active: int = DEFAULT_MAX_ACTIVE
    ) -> list[Run]:
        """Insert runs started together in one transaction; refuse them all when they would
        make more than `max_active` papertests running at once."""
        with self._conn.transaction():
            self._conn.execute("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
            active = self.active_runs()
            if len(active) + len(every) > max_active:
                raise RunActiveError(too_many(active, len(every), max_active), hint=STOP_HINT)
            for each in every:
                self._insert(each)
        return [self.get(each.run_id) for each in every]

    def _insert(self, run: Run) -> None:
        self._conn.execute(
            f"INSERT INTO runs ({_COLUMNS}) VALUES (%s, %s, 'running', %s, %s, %s, %s, %s, %s,"
            " NULL, NULL, %s, NULL, NULL, %s, %s, %s)",
            (
                run.run_id,
                run.name,
                Jsonb(run.parameters.to_json()),
                run.settings_hash,
                run.code_version,
                run.data_source,
                run.started_at,
                run.planned_end,
                run.initial_capital,
                Jsonb(run.settings) if run.settings is not None else None,
                run.group_id,
                run.group_index,
            ),
        )

    def get(self, run_id: str | None = None) -> Run:
        """Return `run_id`, or the newest run when None; a unique prefix is enough."""
        if run_id is None:
            run = self._one("SELECT {} FROM runs ORDER BY started_at DESC LIMIT 1")
            if run is None:
                raise RunNotFoundError(
                    "there is no papertest yet", hint="start one: claire papertest start"
                )
            return run
        found = self._all(
            "SELECT {} FROM runs WHERE run_id = %s OR run_id LIKE %s ESCAPE '\\'"
            " ORDER BY started_at DESC",
            (run_id, like_literal(run_id) + "%"),
        )
        exact = [r for r in found if r.run_id == run_id]
        if exact:
            return exact[0]
        if len(found) == 1:
            return found[0]
        if not found:
            raise RunNotFoundError(f"no papertest {run_id!r}", hint="claire papertest list")
        names = ", ".join(r.run_id for r in found[:5])
        raise RunNotFoundError(f"{run_id!r} matches several papertests: {names}")

    def active_runs(self, group_id: str | None = None) -> list[Run]:
        """Return the running papertests (of `group_id`), oldest first."""
        if group_id is None:
            return self._all("SELECT {} FROM runs WHERE status = 'running' ORDER BY started_at")
        return self._all(
            "SELECT {} FROM runs WHERE status = 'running' AND group_id = %s ORDER BY started_at",
            (group_id,),
        )

    def group(self, group_id: str) -> list[Run]:
        """Return the runs of a group (a unique prefix of its id is enough), oldest first."""
        ids = self._conn.execute(
            "SELECT DISTINCT group_id FROM runs WHERE group_id LIKE %s ORDER BY group_id",
            (like_literal(group_id) + "%",),
        ).fetchall()
        exact = [row[0] for row in ids if row[0] == group_id]
        found = exact or [row[0] for row in ids]
        if not found:
            raise RunNotFoundError(f"no group {group_id!r}", hint="claire papertest list")
        if len(found) > 1:
            raise RunNotFoundError(f"{group_id!r} matches several groups: {', '.join(found[:5])}")
        return self._all(
            "SELECT {} FROM runs WHERE group_id = %s ORDER BY group_index", (found[0],)
        )

    def every(self) -> list[Run]:
        """Return every run, newest first."""
        return self._all("SELECT {} FROM runs ORDER BY started_at DESC")

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        reason: str,
        at: datetime,
        *,
        event_span: tuple[datetime | None, datetime | None] = (None, None),
    ) -> None:
        """Record the end of a run at wall-clock time `at` (once: a run that already ended
        keeps its first end), and the event time its market data spanned (a resumed run
        keeps the start of its first epoch)."""
        first, last = event_span
        with self._conn.transaction():
            self._conn.execute(
                "UPDATE runs SET status = %s, end_reason = %s, ended_at = GREATEST(%s, started_at),"
                " event_start = COALESCE(event_start, %s),"
                " event_end = COALESCE(%s, event_end)"
                " WHERE run_id = %s AND status = 'running'",
                (status, reason[:2000], at, first, last, run_id),
            )

    def set_event_start(self, run_id: str, at: datetime) -> None:
        """Record when the run's market data starts (once: a resumed run keeps its first)."""
        with self._conn.transaction():
            self._conn.execute(
                "UPDATE runs SET event_start = COALESCE(event_start, %s) WHERE run_id = %s",
                (at, run_id),
            )

    def reopen(self, run_id: str) -> None:
        """Mark an ended (crashed or stopped) run as running again, for `resume` (the resume
        itself is kept by `RunControl.record_resume`)."""
        with self._conn.transaction():
            self._conn.execute(
                "UPDATE runs SET status = 'running', ended_at = NULL, end_reason = NULL"
                " WHERE run_id = %s",
                (run_id,),
            )

    def _one(self, query: str, params: tuple[Any, ...] = ()) -> Run | None:
        rows = self._all(query, params)
        return rows[0] if rows else None

    def _all(self, query: str, params: tuple[Any, ...] = ()) -> list[Run]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query.format(_COLUMNS).encode(), params)
            rows = cur.fetchall()
        return [_run_of(row) for row in rows]


def _run_of(row: dict[str, Any]) -> Run:
    return Run(
        run_id=row["run_id"],
        name=row["name"],
        status=row["status"],
        parameters=RunParameters.from_json(dict(row["parameters"] or {})),
        settings_hash=row["settings_hash"],
        code_version=row["code_version"],
        data_source=row["data_source"],
        started_at=row["started_at"],
        planned_end=row["planned_end"],
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
        initial_capital=row["initial_capital"],
        event_start=row["event_start"],
        event_end=row["event_end"],
        settings=row["settings"],
        group_id=row["group_id"],
        group_index=row["group_index"],
    )


#: What to do when too many papertests run.
STOP_HINT = "stop one first (claire papertest stop RUN), or raise CLAIRE_PAPERTEST_MAX_ACTIVE"


def too_many(active: list[Run], adding: int, max_active: int) -> str:
    """Why `adding` more papertests cannot start beside `active` (at most `max_active`)."""
    running = ", ".join(run.run_id for run in active[:5]) + (" …" if len(active) > 5 else "")
    asked = "a papertest" if adding == 1 else f"{adding} papertests"
    return (
        f"{asked} more would make {len(active) + adding} running at once, over"
        f" CLAIRE_PAPERTEST_MAX_ACTIVE={max_active} (running: {running or 'none'})"
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
