"""The runs of one `claire papertest start` that starts a group: a strategy repeated, or a
matrix file.

A matrix file is TOML, one `[[run]]` table per run, each with its strategy and, optionally,
a name and its parameters (the run's own; they win over `--param` and `--params`, which are
given to every run of the group):

    [[run]]
    strategy = "momentum"
    name = "momentum-30"
    params = { lookback_minutes = 30 }

    [[run]]
    strategy = "examples.strategies.ema_cross:EmaCross"
    params = { fast = 8, slow = 21 }

Every run of a group plays the same source, period and capital; each is checked before
anything starts, and a mistake is one line naming the run and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import PermanentError
from engine.runs.service import Member
from engine.strategy.params import as_text

#: The most runs one start may begin (CLAIRE_PAPERTEST_MAX_ACTIVE caps those running too).
MOST_MEMBERS = 64
_KEYS = {"strategy", "name", "params"}


class MatrixError(PermanentError):
    """A matrix file that cannot be read, or a run in it that is wrong."""


def read_matrix(path: Path, common: Mapping[str, Any] | None = None) -> list[Member]:
    """The runs `path` lists; `common` parameters go to each, under its own."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise MatrixError(f"cannot read the matrix {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MatrixError(f"{path} is not TOML: {exc}") from None
    runs = data.get("run")
    if set(data) - {"run"} or not isinstance(runs, list) or not runs:
        raise MatrixError(
            f"{path} lists no run: give one [[run]] table for each, with its strategy",
            hint='each run: [[run]], then strategy = "momentum", params = { fast = 8 }',
        )
    return _checked([_member(path, n, entry, common or {}) for n, entry in enumerate(runs, 1)])


def repeated(
    strategies: Sequence[str], common: Mapping[str, Any], name: str | None = None
) -> list[Member]:
    """`--strategy` given more than once: one run each, every one with `common` parameters
    (a `name` becomes `name-1`, `name-2` …)."""
    return _checked(
        [
            Member(strategy, as_text(dict(common)), None if name is None else f"{name}-{number}")
            for number, strategy in enumerate(strategies, 1)
        ]
    )


def _member(path: Path, number: int, entry: object, common: Mapping[str, Any]) -> Member:
    where = f"{path} run {number}"
    if not isinstance(entry, dict):
        raise MatrixError(f"{where} is not a table: write it as [[run]] with its keys")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise MatrixError(
            f"{where}: unknown key {', '.join(unknown)} (a run has {', '.join(sorted(_KEYS))})"
        )
    strategy = entry.get("strategy")
    if not isinstance(strategy, str) or not strategy.strip():
        raise MatrixError(f'{where} names no strategy: strategy = "momentum", for example')
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise MatrixError(f"{where}: name must be text")
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise MatrixError(f"{where}: params must be a table, like params = {{ fast = 8 }}")
    return Member(strategy.strip(), as_text({**common, **params}), name)


def _checked(members: list[Member]) -> list[Member]:
    if len(members) > MOST_MEMBERS:
        raise MatrixError(f"{len(members)} runs in one start: at most {MOST_MEMBERS}")
    names = [m.name for m in members if m.name is not None]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MatrixError(f"two runs of the group are named {', '.join(twice)}: name each once")
    return members
