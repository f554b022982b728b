"""Every setting of claire, in one pydantic-settings class.

Variables carry the `CLAIRE_` prefix and name their section with one underscore:
`CLAIRE_RISK_MAX_DAILY_DRAWDOWN` is `settings.risk.max_daily_drawdown`; a field whose
validation alias names a variable is read from it instead (`CLAIRE_STRATEGY_PARAMS` is
`settings.papertest.strategy_params`). They come from the process environment first, then
from a `.env` file, then from the defaults below.
Percentages accept `0.05` and `5%`; the stored value is a `Decimal` fraction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.durations import LONGEST_DURATION
from engine.money import parse_fraction
from engine.runtime_kind import RuntimeKind

ENV_PREFIX = "CLAIRE_"
DEFAULT_ENV_FILE = Path(".env")

Fraction = Annotated[Decimal, BeforeValidator(parse_fraction), Field(ge=0, le=1)]
"""A share between 0 and 1, written `0.05` or `5%`."""

Money = Annotated[Decimal, BeforeValidator(parse_fraction)]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[int, Field(ge=1, le=31 * 24 * 3600)]
_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DURATION = re.compile(r"^\d{1,10}[smhd]$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_LONGEST_DURATION_S = LONGEST_DURATION // timedelta(seconds=1)
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
STRATEGY_PARAMS_ENV = "CLAIRE_STRATEGY_PARAMS"
"""The variable of `papertest.strategy_params`: the strategy's parameters, not a field of the
`strategy` section (that section is the momentum strategy's parameters model)."""
STRATEGY_PARAMS_FORM = "key=value pairs separated by commas or semicolons, e.g. fast=8,slow=21"


def clock_time(value: str) -> str:
    """Return `value` when it is a time of day HH:MM (00:00 to 23:59); raise ValueError."""
    if not _CLOCK_TIME.match(value):
        raise ValueError("must be a time of day HH:MM, 00:00 to 23:59")
    return value


ClockTime = Annotated[str, AfterValidator(clock_time)]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip().upper() for part in value.split(",") if part.strip()]
    return value


Symbols = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DatabaseSettings(_Section):
    """PostgreSQL: claire's own server (local runtime) or one given by URL."""

    url: SecretStr | None = Field(
        None, description="Use this PostgreSQL server instead of starting one (postgresql://...)"
    )
    name: str = Field("claire", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Database name")
    user: str = Field("claire", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Database role")
    password: SecretStr | None = Field(
        None, description="Role password; required when PostgreSQL listens on TCP"
    )
    port: Port | None = Field(
        None, description="Also listen on 127.0.0.1:PORT (unix socket only when unset)"
    )
    bin_dir: Path | None = Field(
        None, description="Directory of initdb/pg_ctl/postgres (found automatically when unset)"
    )


class RedisSettings(_Section):
    """Redis: the event bus (Streams with consumer groups)."""

    url: SecretStr | None = Field(
        None,
        description="Use this Redis server instead of starting one (redis://... or unix://...)",
    )
    password: SecretStr | None = Field(
        None, description="Redis password; required when Redis listens on TCP"
    )
    port: Port | None = Field(
        None, description="Also listen on 127.0.0.1:PORT (unix socket only when unset)"
    )
    namespace: str = Field(
        "claire", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Prefix of every stream key"
    )
    stream_maxlen: int = Field(
        1_000_000, ge=1_000, description="Approximate length each stream is trimmed to"
    )
    max_deliveries: int = Field(
        5, ge=1, le=1_000, description="Attempts before a failing message is dead-lettered"
    )
    claim_idle_ms: int = Field(
        30_000, ge=100, description="Reclaim messages a consumer left pending this long (ms)"
    )
    binary: str = Field("redis-server", description="The redis-server program to run")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        if text and not text.lower().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


class PapertestSettings(_Section):
    """Defaults for `claire papertest start`."""

    capital: Money = Field(
        Decimal(100_000), gt=0, description="Initial capital in the quote currency"
    )
    quote_currency: str = Field("USDT", pattern=r"^[A-Z]{2,10}$", description="Quote currency")
    duration: str = Field("7d", description="Planned length: 90m, 12h, 7d")
    symbols: Symbols = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT"], description="Symbols, comma-separated"
    )
    strategy: str = Field("momentum", description="Strategy name or dotted path")
    snapshot_seconds: Seconds = Field(60, description="Portfolio snapshot interval (event time)")
    max_active: int = Field(
        8,
        ge=1,
        le=64,
        description="How many papertests may run at once (each has its own engine)",
    )
    engines: Literal["process", "workers"] = Field(
        "process",
        description="Who runs a papertest's engine on the local runtime: process (claire "
        "papertest start starts one per run) or workers (a run waits for `claire worker`, "
        "here or on another machine pointing at the same Redis and PostgreSQL)",
    )
    strategy_error_limit: int = Field(
        10,
        ge=1,
        le=100_000,
        description="Strategy exceptions in a row that halt the strategy and end the run",
    )
    strategy_params: str = Field(
        "",
        validation_alias=AliasChoices("strategy_params", STRATEGY_PARAMS_ENV),
        description="The strategy's parameters: key=value pairs separated by commas or "
        "semicolons, e.g. fast=8,slow=21 (unset: its defaults; --params and --param win)",
    )

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        seconds = int(value[:-1]) * _UNIT_SECONDS[value[-1]] if _DURATION.match(value) else -1
        if not 0 < seconds <= _LONGEST_DURATION_S:  # longer: no date after the end to compute
            raise ValueError(
                "must be a number followed by s, m, h or d, at most 3650d (e.g. 90m, 12h, 7d)"
            )
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        problem = symbols_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("strategy_params")
    @classmethod
    def _check_strategy_params(cls, value: str) -> str:
        pairs = [pair.partition("=") for pair in strategy_param_pairs(value)]
        bad = ["".join(pair) for pair in pairs if not pair[1] or not pair[0].strip()]
        if bad:
            raise ValueError(f"{bad[0]!r} is not key=value")
        return value


def strategy_param_pairs(text: str) -> list[str]:
    """The `key=value` parts of CLAIRE_STRATEGY_PARAMS, split at commas and semicolons."""
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def symbols_problem(symbols: Sequence[str]) -> str | None:
    """Say what is wrong with a papertest's symbols (None: nothing)."""
    if not symbols:
        return "must name at least one symbol"
    bad = [symbol for symbol in symbols if not _SYMBOL.match(symbol)]
    if bad:
        return f"{', '.join(repr(b) for b in bad)} is not a symbol like BTCUSDT"
    repeated = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
    if repeated:
        return f"{', '.join(repeated)} is named more than once: name each symbol once"
    return None


class StrategySettings(_Section):
    """Parameters of the momentum strategy; `papertest.strategy` chooses the strategy."""

    lookback_minutes: int = Field(
        15, ge=1, le=1440, description="Look-back of the % change and the volume (minutes)"
    )
    entry_threshold: Fraction = Field(
        Decimal("0.005"), gt=0, description="Rise over the look-back that opens a position"
    )
    min_quote_volume: Money = Field(
        Decimal(0),
        ge=0,
        description="Least traded volume over the look-back to enter, in the quote currency "
        "(0: no minimum)",
    )
    take_profit: Fraction = Field(
        Decimal("0.02"), description="Gain over the entry price that exits (0: off)"
    )
    stop_loss: Fraction = Field(
        Decimal("0.01"), description="Loss under the entry price that exits (0: off)"
    )
    trailing_stop: Fraction = Field(
        Decimal("0.015"), description="Fall from the highest price since entry that exits (0: off)"
    )
    reversal_threshold: Fraction = Field(
        Decimal("0.005"), description="Fall over the look-back that exits a position (0: off)"
    )
    cooldown_minutes: int = Field(
        15, ge=0, le=1440, description="Minutes without a new entry on a symbol after a signal"
    )


class RiskSettings(_Section):
    """Risk limits; every decision against them is recorded with a reason code."""

    max_position: Fraction = Field(
        Decimal("0.05"), description="Largest single position, as a share of equity"
    )
    max_exposure: Fraction = Field(
        Decimal("0.10"), description="Largest total exposure, as a share of equity"
    )
    max_daily_drawdown: Fraction = Field(
        Decimal("0.05"), description="Daily drawdown (UTC day) that blocks new entries"
    )
    abort_drawdown: Fraction = Field(
        Decimal("0.08"), description="Drawdown that halts the papertest"
    )
    alert_drawdown: Fraction = Field(Decimal("0.03"), description="Drawdown that raises an alert")
    min_notional: Money = Field(
        Decimal(5), ge=0, description="Smallest order value in the quote currency"
    )


class ExecutionSettings(_Section):
    """The paper execution model: fees, slippage, latency, partial fills."""

    taker_fee: Fraction = Field(Decimal("0.0005"), description="Taker fee (MEXC spot: 0.05%)")
    maker_fee: Fraction = Field(Decimal(0), description="Maker fee (MEXC spot: 0%)")
    slippage_base_bps: Money = Field(
        Decimal(1), ge=0, description="Slippage on every market fill (bps)"
    )
    slippage_impact_bps: Money = Field(
        Decimal(10), ge=0, description="Extra slippage per 100% of recent volume (bps)"
    )
    slippage_cap_bps: Money = Field(Decimal(50), ge=0, description="Largest slippage applied (bps)")
    latency_ms: int = Field(50, ge=0, le=60_000, description="Order-to-fill latency (ms)")
    partial_fill_fraction: Fraction = Field(
        Decimal("0.10"), gt=0, description="Largest share of recent volume one fill takes"
    )
    limit_order_ttl_seconds: Seconds = Field(3600, description="Resting limit orders expire after")
    market_order_ttl_seconds: Seconds = Field(
        5,
        description="A market order whose first price after arrival (or after its last fill) "
        "comes later than this expires as stale (event time)",
    )


class MarketSettings(_Section):
    """Where market data comes from and when it counts as stale."""

    source: Literal["mexc", "replay", "synthetic"] = Field("mexc", description="Market data source")
    replay_path: Path | None = Field(None, description="Recorded data for source=replay")
    synthetic_seed: int = Field(42, description="Seed of the synthetic market")
    shared_feed: bool = Field(
        True,
        description="Local runtime: every live papertest reads one MEXC feed (one connection "
        "set for the union of their symbols) instead of each opening its own",
    )
    stale_after_seconds: Seconds = Field(
        120, description="Market data older than this trips the circuit breaker and health check"
    )
    record_ticks: bool = Field(False, description="Persist raw ticks as well as 1-minute candles")
    data_dir: Path | None = Field(
        None, description="Where `claire data fetch` and recordings write (default: HOME/data)"
    )


class MexcSettings(_Section):
    """MEXC spot endpoints (settings, so tests and endpoint moves need no release)."""

    rest_url: str = Field("https://api.mexc.com", description="MEXC REST base URL")
    ws_url: str = Field("wss://wbs-api.mexc.com/ws", description="MEXC websocket URL")

    @field_validator("rest_url")
    @classmethod
    def _check_rest(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("ws_url")
    @classmethod
    def _check_ws(cls, value: str) -> str:
        if not re.match(r"^wss?://[^\s/]+", value):
            raise ValueError("must be a ws:// or wss:// URL")
        return value


class VerdictSettings(_Section):
    """The criteria of a report's verdict: GO, NO-GO or INCONCLUSIVE (`report --check`).

    Too few round trips or days (evidence) make it INCONCLUSIVE; a drawdown above the limit
    is NO-GO however thin the evidence; with enough evidence any failed figure is NO-GO.
    """

    min_round_trips: int = Field(
        30, ge=0, description="Evidence: fewer closed round trips make the verdict inconclusive"
    )
    min_days: int = Field(
        7, ge=0, description="Evidence: fewer days of data make the verdict inconclusive"
    )
    min_psr: Fraction = Field(
        Decimal("0.95"),
        description="NO-GO when the probabilistic Sharpe ratio (against 0, daily) is below this",
    )
    max_drawdown: Fraction = Field(
        Decimal("0.15"), description="NO-GO when the max drawdown is above this fraction"
    )
    min_return: Money = Field(
        Decimal(0), description="NO-GO when the total return (a fraction) is below this"
    )


class ReportSettings(_Section):
    """How a report estimates what its figures are worth."""

    bootstrap_resamples: int = Field(
        2000, ge=100, le=100_000, description="Resamples of each bootstrap confidence interval"
    )
    annualise_min_days: int = Field(
        30,
        ge=1,
        description="Days a run must cover before its annualised return and Calmar are shown",
    )


class SupervisorSettings(_Section):
    """The local runtime's supervisor: restarts claire's dead servers and a crashed engine."""

    enabled: bool = Field(
        True, description="Start the supervisor with `claire up` and `claire papertest start`"
    )
    interval_seconds: float = Field(
        2.0, ge=0.1, le=300, description="How often it looks at each server and the engine"
    )
    backoff_cap_seconds: float = Field(
        60.0, ge=1, le=3600, description="Longest wait between two restarts of one component"
    )
    stall_after_seconds: float = Field(
        180.0,
        ge=1,
        le=86_400,
        description="A running papertest with no new snapshot for this long is stalled",
    )


class MonitorSettings(_Section):
    """Each engine process's /health and Prometheus /metrics endpoint."""

    host: str = Field("127.0.0.1", description="Address the /health and /metrics server binds")
    port: int = Field(
        9464, ge=0, le=65535, description="Port of /health and /metrics (0: any free port)"
    )
    max_consumer_lag: int = Field(
        10_000, ge=1, description="/health fails when a stage is this many events behind"
    )
    prometheus: bool = Field(
        False, description="claire up also starts Prometheus (local runtime; needs its binary)"
    )
    prometheus_port: Port = Field(9090, description="Port of that Prometheus (127.0.0.1)")


class NotifySettings(_Section):
    """Where critical alerts and the daily summary go."""

    level: Literal["info", "warning", "critical"] = Field(
        "critical", description="Lowest alert level that is sent"
    )
    urls: SecretStr | None = Field(
        None,
        description="Apprise URLs, comma-separated (tgram://, discord://, mailtos://, json://)",
    )
    telegram_token: SecretStr | None = Field(None, description="Telegram bot token")
    telegram_chat_id: str | None = Field(None, description="Telegram chat id")
    discord_webhook: SecretStr | None = Field(None, description="Discord webhook URL")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts")
    smtp_port: Port = Field(587, description="SMTP port")
    smtp_user: str | None = Field(None, description="SMTP user")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    email_to: str | None = Field(None, description="Recipient of e-mail alerts")
    daily_summary_at: ClockTime = Field(
        "20:00", description="UTC time of the daily summary (HH:MM)"
    )


class BackupSettings(_Section):
    """Nightly backups."""

    dir: Path | None = Field(None, description="Backup directory (default: CLAIRE_HOME/backups)")
    retention_days: int = Field(14, ge=1, le=3650, description="Days a backup is kept")
    at: ClockTime = Field("01:00", description="Local time of the nightly backup (HH:MM)")


_IMAGE = r"^[a-z0-9][a-z0-9._/:@-]{0,254}$"


class DockerSettings(_Section):
    """The Docker runtime (CLAIRE_RUNTIME=docker): images, published ports, monitoring."""

    host: str | None = Field(
        None, description="Docker Engine address (default: DOCKER_HOST, else the local socket)"
    )
    project: str = Field(
        "claire",
        pattern=r"^[a-z][a-z0-9-]{0,30}$",
        description="Name prefix and label of every container, volume and network",
    )
    bind_address: str = Field("127.0.0.1", description="Host address the published ports bind to")
    redis_image: str = Field("redis:7", pattern=_IMAGE, description="Redis image")
    postgres_image: str = Field("postgres:16", pattern=_IMAGE, description="PostgreSQL image")
    prometheus_image: str = Field("prom/prometheus", pattern=_IMAGE, description="Prometheus image")
    grafana_image: str = Field("grafana/grafana", pattern=_IMAGE, description="Grafana image")
    python_image: str = Field(
        "python:3.12-slim", pattern=_IMAGE, description="Base image of the engine image"
    )
    engine_image: str = Field(
        "claire-engine",
        pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}$",
        description="Repository of the engine image claire builds (tagged by content hash)",
    )
    engines: int = Field(
        1,
        ge=1,
        le=32,
        description="Engine containers; each runs one papertest at a time, so this many "
        "run at once",
    )
    redis_port: Port = Field(16379, description="Host port of Redis")
    postgres_port: Port = Field(15432, description="Host port of PostgreSQL")
    grafana_port: Port = Field(3000, description="Host port of Grafana")
    prometheus: bool = Field(
        True, description="Run Prometheus (its port: CLAIRE_MONITOR_PROMETHEUS_PORT)"
    )
    grafana: bool = Field(True, description="Run Grafana with claire's dashboards")
    grafana_password: SecretStr | None = Field(
        None, description="Grafana admin password; required when Grafana runs"
    )
    restart: Literal["always", "unless-stopped", "on-failure"] = Field(
        "always",
        description="Restart policy of every container (`always` also restarts one killed "
        "with `docker kill` and, after a reboot, starts them all again)",
    )
    build_ca_bundle: Path | None = Field(
        None,
        description="CA bundle pip trusts inside the engine image build (an HTTPS proxy's CA)",
    )
    start_timeout_seconds: Seconds = Field(
        180, description="How long claire up waits for every container to be healthy"
    )


def default_home() -> Path:
    """Return claire's state directory when CLAIRE_HOME is unset.

    A regular user gets `$XDG_DATA_HOME/claire` (`~/.local/share/claire`). root gets
    `/var/lib/claire`, because PostgreSQL runs as the `postgres` user and cannot enter `/root`.
    """
    if os.name == "posix" and os.geteuid() == 0:
        return Path("/var/lib/claire")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "claire"


class Settings(BaseSettings):
    """All of claire's settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        case_sensitive=False,
        extra="ignore",  # unknown CLAIRE_ variables are reported by `claire env check`
        frozen=True,
        validate_default=True,
    )

    home: Path = Field(default_factory=default_home, description="claire's state directory")
    runtime: RuntimeKind = Field(RuntimeKind.LOCAL, description="local (own servers) or docker")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    papertest: PapertestSettings = Field(default_factory=PapertestSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    market: MarketSettings = Field(default_factory=MarketSettings)
    mexc: MexcSettings = Field(default_factory=MexcSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    verdict: VerdictSettings = Field(default_factory=VerdictSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    docker: DockerSettings = Field(default_factory=DockerSettings)

    @model_validator(mode="before")
    @classmethod
    def _strategy_params_of_the_environment(cls, data: object) -> object:
        """pydantic-settings splits CLAIRE_STRATEGY_PARAMS at its `_` into `strategy.params`
        (a momentum parameter it is not): move it to `papertest.strategy_params`."""
        if not isinstance(data, dict) or not isinstance(data.get("strategy"), dict):
            return data
        strategy = dict(data["strategy"])
        papertest = data.get("papertest") or {}
        if "params" not in strategy or not isinstance(papertest, dict):
            return data
        papertest = {**papertest, "strategy_params": strategy.pop("params")}
        return {**data, "strategy": strategy, "papertest": papertest}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        try:
            return value.expanduser().absolute()
        except RuntimeError:  # `~name` of no user here, or `~` with no home directory
            raise ValueError(
                "must be a path; a leading ~ or ~USER must name a user with a home directory"
            ) from None

    @property
    def backup_dir(self) -> Path:
        return self.backup.dir or self.home / "backups"

    @property
    def data_dir(self) -> Path:
        return self.market.data_dir or self.home / "data"


SECTIONS: tuple[str, ...] = tuple(
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Section)
)


class SettingSpec(BaseModel):
    """One environment variable claire reads."""

    model_config = ConfigDict(frozen=True)

    env: str
    path: tuple[str, ...]
    description: str
    default: Any
    secret: bool


def setting_specs() -> Iterator[SettingSpec]:
    """Yield every variable claire reads, in declaration order."""
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if name in SECTIONS and isinstance(annotation, type) and issubclass(annotation, _Section):
            for sub_name, sub_field in annotation.model_fields.items():
                yield SettingSpec(
                    env=_env_name(sub_field) or f"{ENV_PREFIX}{name}_{sub_name}".upper(),
                    path=(name, sub_name),
                    description=sub_field.description or "",
                    default=sub_field.get_default(call_default_factory=True),
                    secret=_is_secret(sub_field.annotation),
                )
        else:
            yield SettingSpec(
                env=f"{ENV_PREFIX}{name}".upper(),
                path=(name,),
                description=field.description or "",
                default=None if name == "home" else field.get_default(call_default_factory=True),
                secret=_is_secret(annotation),
            )


def _env_name(field: FieldInfo) -> str | None:
    """The variable a field's validation alias names (`CLAIRE_STRATEGY_PARAMS`), else None:
    a field whose variable is not its section and its name."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    names = [c for c in choices if isinstance(c, str) and c.upper().startswith(ENV_PREFIX)]
    return names[0].upper() if names else None


def _is_secret(annotation: object) -> bool:
    return "SecretStr" in repr(annotation)


def format_value(value: object) -> str:
    """Write a setting's value the way it is written in a `.env` file (secrets unmasked)."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)
