"""Check claire's settings and report every problem at once (`claire env check`).

Values come from the process environment (wins), then the `.env` file, then the defaults.
Each problem is a `Finding`: the variable, its value (masked if secret) and what is allowed.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from annotated_types import Ge, Gt, Le, Lt
from dotenv.main import resolve_variables
from dotenv.parser import Binding, parse_stream
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from engine.errors import ConfigurationError
from engine.exposure import exposed_listeners
from engine.money import parse_fraction
from engine.settings import (
    DEFAULT_ENV_FILE,
    ENV_PREFIX,
    SECTIONS,
    STRATEGY_PARAMS_ENV,
    STRATEGY_PARAMS_FORM,
    Settings,
    SettingSpec,
    format_value,
    setting_specs,
)

Severity = Literal["error", "warning"]
Source = Literal["env", "file", "default"]

SPECS: dict[str, SettingSpec] = {spec.env: spec for spec in setting_specs()}
"""Every variable claire reads, by name."""
_VARIABLES: dict[tuple[str, ...], str] = {spec.path: spec.env for spec in SPECS.values()}
_ALLOWED = {STRATEGY_PARAMS_ENV: STRATEGY_PARAMS_FORM}
"""What a variable allows, where its type says too little (text)."""

_SHOWN_PREFIX_MIN_LENGTH = 16
_FRACTION_TEXT = "written 0.05 or 5%"
_OUT_OF_RANGE = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_TYPE_PROBLEMS = dict.fromkeys(_OUT_OF_RANGE, "is out of range") | {
    "int_parsing": "is not a whole number",
    "decimal_parsing": "is not a number",
    "bool_parsing": "is not true or false",
}


@dataclass(frozen=True)
class Finding:
    """One problem with the settings; `value` is already masked when it is a secret."""

    severity: Severity
    variable: str | None
    value: str | None
    problem: str
    allowed: str

    def __str__(self) -> str:
        subject = printable(self.variable or "")
        if self.variable and self.value is not None:
            subject = f"{subject} = {self.value!r}"
        head = f"{subject}: {self.problem}" if subject else self.problem
        return f"{head}; allowed: {self.allowed}"

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class EffectiveSetting:
    """One variable as claire will use it: its value (None when unset, secrets masked)."""

    variable: str
    value: str | None
    source: Source


def printable(text: object) -> str:
    """Return `text` as is, or quoted with escapes when it holds a line break or control
    character (a variable name or file name can): a finding stays one line, and a name
    cannot send escape sequences to the terminal."""
    shown = str(text)
    return shown if shown.isprintable() else repr(shown)


def mask(value: str) -> str:
    """Hide a secret: `****`, or its first 2 characters and `…` when it is long."""
    if len(value) < _SHOWN_PREFIX_MIN_LENGTH:
        return "****"
    return f"{value[:2]}…"


def is_valid(findings: list[Finding]) -> bool:
    """Return True when no finding is an error (warnings alone leave settings valid)."""
    return all(finding.severity != "error" for finding in findings)


def resolve_env_file(given: Path | None) -> Path | None:
    """Return the settings file to read: `given`, else `./.env` when it exists, else None."""
    if given is not None:
        return given
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


def load_sources(
    environ: Mapping[str, str], env_file: Path | None
) -> dict[str, tuple[str, Source]]:
    """Return every known variable's raw value and where it comes from."""
    given = _given(environ, env_file)
    return {name: given.get(name, (_raw(given, name), "default")) for name in SPECS}


def check_settings(
    environ: Mapping[str, str],
    env_file: Path | None,
    *,
    checks: Sequence[Callable[[Settings], list[Finding]]] = (),
) -> list[Finding]:
    """Return every problem of the settings in `environ` and `env_file`, errors first.

    Each of `checks` also looks at the settings when they are valid so far: `claire env
    check` passes the strategy's check of CLAIRE_STRATEGY_PARAMS (a higher layer than this).
    """
    findings: list[Finding] = []
    unusable = _file_problem(env_file) if env_file is not None else None
    if unusable is not None:
        findings.append(_error(None, None, *unusable))
    findings += _file_syntax(env_file)
    given = _given(environ, env_file)
    findings += _unknown(given)
    settings, problems = _validate(given)
    findings += problems + _exposed(settings)
    if settings is not None:
        findings += [finding for check in checks for finding in check(settings)]
    findings += _required(given)
    findings += _inconsistent(given)
    findings += _file_permissions(env_file, given)
    return sorted(findings, key=lambda finding: finding.severity != "error")


def build_settings(environ: Mapping[str, str], env_file: Path | None) -> Settings:
    """Return the settings, or raise `ConfigurationError` listing every error."""
    errors = [f for f in check_settings(environ, env_file) if f.severity == "error"]
    settings = _validate(_given(environ, env_file))[0]
    if errors or settings is None:
        raise ConfigurationError(list(errors))
    return settings


def effective_settings(environ: Mapping[str, str], env_file: Path | None) -> list[EffectiveSetting]:
    """Return every variable's effective value (secrets masked) and its source."""
    settings = build_settings(environ, env_file)
    sources = load_sources(environ, env_file)
    result = []
    for name, spec in SPECS.items():
        value: Any = settings
        for part in spec.path:
            value = getattr(value, part)
        result.append(EffectiveSetting(name, _display(value), sources[name][1]))
    return result


def _display(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return mask(value.get_secret_value())
    return format_value(value)


def _given(environ: Mapping[str, str], env_file: Path | None) -> dict[str, tuple[str, Source]]:
    """Return the CLAIRE_ variables set in the file and the environment (which wins)."""
    given: dict[str, tuple[str, Source]] = {}
    for name, value in _read_env_file(env_file).items():
        given[name.upper()] = (value, "file")
    for name, value in environ.items():
        if name.upper().startswith(ENV_PREFIX):
            given[name.upper()] = (value, "env")
    return given


def _read_env_file(env_file: Path | None) -> dict[str, str]:
    """Parse a .env file like pydantic-settings does (python-dotenv, with ${VAR} expansion)."""
    bindings = [b for b in _bindings(env_file) if b.key is not None]
    resolved = resolve_variables(((b.key or "", b.value) for b in bindings), override=True)
    return {
        key: value
        for key, value in resolved.items()
        if value is not None and key.upper().startswith(ENV_PREFIX)
    }


def _file_problem(env_file: Path) -> tuple[str, str] | None:
    """Say why `env_file` cannot be read as a settings file, and what is allowed (None: it can).

    Only a regular file is read: a device such as /dev/zero would never end, a FIFO blocks.
    """
    name = printable(env_file)
    try:
        if not env_file.exists():
            return f"{name} does not exist", "an existing file"
        if not env_file.is_file():
            return f"{name} is not a regular file", "a file of KEY=value lines"
        if not os.access(env_file, os.R_OK):
            return f"{name} cannot be read", "a readable file"
    except OSError as exc:  # a name too long for the file system, a loop of links
        return f"{name} cannot be used: {exc.strerror or exc}", "a path to an existing file"
    return None


def _bindings(env_file: Path | None) -> Iterator[Binding]:
    text = ""
    if env_file is not None and _file_problem(env_file) is None:
        try:
            text = env_file.read_text(encoding="utf-8", errors="replace")
        except OSError:  # gone or unreadable since it was checked: reported by check_settings
            text = ""
    return parse_stream(io.StringIO(text))


def _file_syntax(env_file: Path | None) -> list[Finding]:
    # A line without `=` has no value (pydantic-settings reads None); the line may hold a
    # secret, so only its number is shown.
    bad = [_line(b) for b in _bindings(env_file) if b.error or (b.key and b.value is None)]
    problem = "{}, line {}: not a KEY=value line"
    allowed = 'KEY=value, KEY="quoted value" or a # comment'
    return [_error(None, None, problem.format(printable(env_file), line), allowed) for line in bad]


def _line(binding: Binding) -> int:
    """Return the line a binding's text starts on (dotenv counts the blank lines before it)."""
    text = binding.original.string
    return binding.original.line + text[: len(text) - len(text.lstrip())].count("\n")


def _validate(given: dict[str, tuple[str, Source]]) -> tuple[Settings | None, list[Finding]]:
    nested: dict[str, Any] = {}
    for name, (value, _) in given.items():
        spec = SPECS.get(name)
        if spec is None:
            continue
        if len(spec.path) == 1:
            nested[spec.path[0]] = value
        else:
            nested.setdefault(spec.path[0], {})[spec.path[1]] = value
    try:
        validated = _GivenOnly.model_validate(nested)
    except ValidationError as exc:
        return None, [_translate(error, given) for error in exc.errors(include_url=False)]
    values = {name: getattr(validated, name) for name in Settings.model_fields}
    return Settings.model_construct(validated.model_fields_set, **values), []


class _GivenOnly(Settings):
    """Settings validated from the values handed over only.

    A BaseSettings model reads the process environment even in `model_validate`; here the
    values come from `environ` and the file as `_given` merged them, and nothing else.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _translate(error: Any, given: dict[str, tuple[str, Source]]) -> Finding:
    loc = [str(part) for part in error["loc"]]
    path = tuple(loc[:2]) if loc and loc[0] in SECTIONS else tuple(loc[:1])
    name = _VARIABLES.get(path) or (ENV_PREFIX + "_".join(path)).upper()
    spec = SPECS.get(name)
    secret = spec is not None and spec.secret
    raw = given.get(name)
    value = None if raw is None else (mask(raw[0]) if secret else raw[0])
    field = _field(path)
    allowed = _allowed(field) if field is not None else "see `claire env template`"
    allowed = _ALLOWED.get(name, allowed)
    problem, allowed = _explain(error, allowed, secret)
    return _error(name, value, problem, allowed)


def _explain(error: Any, allowed: str, secret: bool) -> tuple[str, str]:
    """Return what is wrong and what is allowed, from pydantic's error type and context."""
    kind, ctx = error["type"], error.get("ctx") or {}
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in {"literal_error", "enum"}:
        return "is not one of the choices", f"one of {ctx['expected']}"
    if kind == "string_pattern_mismatch":
        return "has the wrong form", f"text matching {ctx['pattern']}"
    if kind in _TYPE_PROBLEMS:
        return _TYPE_PROBLEMS[kind], allowed
    if secret and str(error.get("input") or "") in message:  # it may quote the secret
        return "is invalid", allowed
    if message.startswith("must be "):
        return "is invalid", message.removeprefix("must be ")
    return ("is invalid", allowed) if secret else (message, allowed)


def _field(path: tuple[str, ...]) -> FieldInfo | None:
    fields: dict[str, FieldInfo] = Settings.model_fields
    if len(path) == 2:
        section = fields[path[0]].annotation
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            return None
        fields = section.model_fields
    return fields.get(path[-1])


def _allowed(field: FieldInfo) -> str:
    """Say in words what a field accepts: its type and its bounds."""
    metadata = list(field.metadata)
    base: Any = field.annotation
    for arg in get_args(base):  # `Port | None` keeps its bounds inside the union
        for inner in get_args(arg)[1:]:
            metadata += getattr(inner, "metadata", [inner])
    if any(getattr(m, "func", None) is parse_fraction for m in metadata) and any(
        isinstance(m, Le) and m.le == 1 for m in metadata
    ):
        return f"a fraction {_bounds(metadata)}, {_FRACTION_TEXT}"
    return " ".join(part for part in (_kind(base, metadata), _bounds(metadata)) if part)


def _kind(annotation: object, metadata: list[Any]) -> str:
    text = repr(annotation)
    if any(getattr(m, "func", None) is parse_fraction for m in metadata):
        return "a number"
    if re.search(r"\bint\b", text):
        return "a whole number"
    if "bool" in text:
        return "true or false"
    if "list" in text:
        return "a comma-separated list such as BTCUSDT,ETHUSDT"
    if "Path" in text:
        return "a path"
    return "text"


def _bounds(metadata: list[Any]) -> str:
    ge = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    le = next((m.le for m in metadata if isinstance(m, Le)), None)
    gt = next((m.gt for m in metadata if isinstance(m, Gt)), None)
    lt = next((m.lt for m in metadata if isinstance(m, Lt)), None)
    if gt is None and lt is None and ge is not None and le is not None:
        return f"from {ge} to {le}"
    lower = f"above {gt}" if gt is not None else (f"at least {ge}" if ge is not None else "")
    upper = f"below {lt}" if lt is not None else (f"at most {le}" if le is not None else "")
    return " and ".join(part for part in (lower, upper) if part)


def _unknown(given: dict[str, tuple[str, Source]]) -> list[Finding]:
    findings = []
    for name, (value, source) in given.items():
        if name in SPECS:
            continue
        where = "the environment" if source == "env" else "the settings file"
        close = difflib.get_close_matches(name, list(SPECS), n=1)
        allowed = (
            f"did you mean {close[0]}?" if close else "a variable listed by `claire env template`"
        )
        # Masked: an unknown name may be a mistyped secret.
        findings.append(_error(name, mask(value), f"unknown variable in {where}", allowed))
    return findings


# (required variable, when these variables have these values (None: are set), what is allowed)
_DOCKER = ("CLAIRE_RUNTIME", "docker")
_REQUIRED: tuple[tuple[str, tuple[tuple[str, str | None], ...], str], ...] = (
    ("CLAIRE_DATABASE_PASSWORD", (_DOCKER,), "a password"),
    ("CLAIRE_REDIS_PASSWORD", (_DOCKER,), "a password"),
    ("CLAIRE_DATABASE_PASSWORD", (("CLAIRE_DATABASE_PORT", None),), "a password"),
    ("CLAIRE_REDIS_PASSWORD", (("CLAIRE_REDIS_PORT", None),), "a password"),
    (
        "CLAIRE_DOCKER_GRAFANA_PASSWORD",
        (_DOCKER, ("CLAIRE_DOCKER_GRAFANA", "true")),
        "a password, or CLAIRE_DOCKER_GRAFANA=false",
    ),
    ("CLAIRE_NOTIFY_TELEGRAM_CHAT_ID", (("CLAIRE_NOTIFY_TELEGRAM_TOKEN", None),), "a chat id"),
    ("CLAIRE_NOTIFY_EMAIL_TO", (("CLAIRE_NOTIFY_SMTP_HOST", None),), "an e-mail address"),
    (
        "CLAIRE_MARKET_REPLAY_PATH",
        (("CLAIRE_MARKET_SOURCE", "replay"),),
        "a path to recorded data",
    ),
)

# (severity, variable, ">" or ">=", other variable, why the combination is wrong)
_LIMITS: tuple[tuple[Severity, str, str, str, str], ...] = (
    ("error", "CLAIRE_RISK_MAX_POSITION", ">", "CLAIRE_RISK_MAX_EXPOSURE",
     "one position can never be larger than all positions together"),
    ("error", "CLAIRE_RISK_ALERT_DRAWDOWN", ">=", "CLAIRE_RISK_ABORT_DRAWDOWN",
     "the papertest would halt before the alert warns of the drawdown"),
    ("warning", "CLAIRE_RISK_MAX_DAILY_DRAWDOWN", ">", "CLAIRE_RISK_ABORT_DRAWDOWN",
     "the papertest halts before the daily limit can block entries, so it has no effect "
     "(a warning only: the abort limit still protects the account)"),
)  # fmt: skip


def _required(given: dict[str, tuple[str, Source]]) -> list[Finding]:
    reasons: dict[str, list[str]] = {}
    allowed: dict[str, str] = {}
    for name, conditions, what in _REQUIRED:
        if (
            all(_holds(given, *condition) for condition in conditions)
            and not _raw(given, name).strip()
        ):
            why = " and ".join(f"{var} is {value or 'set'}" for var, value in conditions)
            reasons.setdefault(name, []).append(why)
            allowed[name] = what
    return [
        _error(name, None, "is missing: required because " + " and ".join(why), allowed[name])
        for name, why in reasons.items()
    ]


def _holds(given: dict[str, tuple[str, Source]], name: str, expected: str | None) -> bool:
    actual = _raw(given, name).strip().lower()
    if expected is None:
        return bool(actual)
    if expected == "true":  # a boolean as pydantic reads it
        return actual in _TRUE
    return actual == expected


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


def _inconsistent(given: dict[str, tuple[str, Source]]) -> list[Finding]:
    findings = []
    for severity, name, operator, other, why in _LIMITS:
        value, limit = _share(given, name), _share(given, other)
        if value is None or limit is None:
            continue  # a wrong type, already reported
        if value > limit or (operator == ">=" and value == limit):
            relation = "above" if operator == ">" else "not below"
            bound = "at most" if operator == ">" else "less than"
            findings.append(
                Finding(
                    severity,
                    name,
                    _raw(given, name),
                    f"is {relation} {other} ({_percent(limit)}): {why}",
                    f"{bound} {other} ({_percent(limit)})",
                )
            )
    return findings


def _raw(given: dict[str, tuple[str, Source]], name: str) -> str:
    """Return a variable's raw value, or its default written as in a .env file."""
    return given[name][0] if name in given else format_value(SPECS[name].default)


def _share(given: dict[str, tuple[str, Source]], name: str) -> Decimal | None:
    try:
        return parse_fraction(_raw(given, name))
    except ValueError:
        return None


def file_permission_warnings(environ: Mapping[str, str], env_file: Path | None) -> list[Finding]:
    """The warning a settings file holding secrets deserves when group or others can read it
    (`check_settings` lists it too; the CLI says it on every command that reads the file)."""
    return _file_permissions(env_file, _given(environ, env_file))


def _file_permissions(env_file: Path | None, given: dict[str, tuple[str, Source]]) -> list[Finding]:
    if env_file is None or _file_problem(env_file) is not None or os.name != "posix":
        return []
    secrets = [
        name
        for name, (value, source) in given.items()
        if source == "file" and value and name in SPECS and SPECS[name].secret
    ]
    mode = stat.S_IMODE(env_file.stat().st_mode)
    if not secrets or not mode & 0o077:
        return []
    name = printable(env_file)
    return [
        Finding(
            "warning",
            None,
            None,
            f"{name} holds secrets ({', '.join(secrets)}) and is readable by group or "
            f"others (mode {mode:04o})",
            f"readable by its owner only: chmod 600 {name}",
        )
    ]


def _exposed(settings: Settings | None) -> list[Finding]:
    """A warning for each listener on an address other hosts can reach (allowed, not wise)."""
    return [
        Finding(
            "warning",
            listener.variable,
            listener.host,
            f"{listener.what} can be reached from other hosts",
            "127.0.0.1 (this host only), unless other hosts are meant to reach it",
        )
        for listener in (exposed_listeners(settings) if settings is not None else [])
    ]


def _error(variable: str | None, value: str | None, problem: str, allowed: str) -> Finding:
    return Finding("error", variable, value, problem, allowed)


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


_TEMPLATE_HEADER = """\
# claire settings. Copy this file to .env, uncomment and edit the lines you change:
#   cp .env.example .env && chmod 600 .env && claire env check
# Precedence: process environment, then .env, then the defaults shown here.
# Percentages accept 0.05 or 5%; lists are comma-separated.
# Generated by `claire env template`: do not edit by hand.
"""
_DEFAULT_NOTES = {"CLAIRE_HOME": "default: ~/.local/share/claire, or /var/lib/claire for root"}


def env_template() -> str:
    """Return the commented `.env.example`: one block per section, every variable in it."""
    lines = [_TEMPLATE_HEADER.rstrip("\n")]
    current: str | None = None
    for spec in SPECS.values():
        section = spec.path[0] if len(spec.path) == 2 else "general"
        if section != current:
            current = section
            lines += ["", f"# === {section}: {_section_title(section)}"]
        lines.append(f"# {spec.description}{_notes(spec)}")
        default = "" if spec.secret else format_value(spec.default)
        lines.append(f"# {spec.env}={default}")
    return "\n".join(lines) + "\n"


def _section_title(section: str) -> str:
    if section == "general":
        return "where claire keeps its state and how it runs."
    model = Settings.model_fields[section].annotation
    return (getattr(model, "__doc__", None) or "").strip().splitlines()[0]


def _notes(spec: SettingSpec) -> str:
    notes = ["secret"] if spec.secret else []
    if spec.env in _DEFAULT_NOTES:
        notes.append(_DEFAULT_NOTES[spec.env])
    elif "(default:" in spec.description or "unset" in spec.description:
        pass  # the description says it already
    elif spec.default is None:
        notes.append("unset by default")
    else:
        notes.append(f"default: {format_value(spec.default)}")
    return f" ({', '.join(notes)})" if notes else ""


def load_settings(
    env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from the environment and `env_file` (default `./.env` when present).

    The same checks as `claire env check` run first, so an unknown `CLAIRE_` variable (a
    typo) or an inconsistent combination is refused here too, not silently ignored.
    Raises `ConfigurationError` listing every problem when the settings are invalid.
    """
    return build_settings(os.environ if environ is None else environ, resolve_env_file(env_file))
