"""How the user ran claire, so that every hint names a command they can type as it is.

`claire papertest stop` is no help to someone who ran `./scripts/claire` and has no `claire`
on PATH. Hints are written with `claire …` everywhere (the engine's too); `as_typed` rewrites
each mention of a claire command into the form this process was started with.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from functools import cache
from pathlib import Path

#: Set by scripts/claire to the path the user typed: the wrapper execs the venv's `claire`,
#: so this process's argv[0] is not what the user typed. Taken out of the environment at
#: once: it is no setting (`env check` would call it unknown) and no engine needs it.
WRAPPER_VARIABLE = "CLAIRE_INVOKED_AS"


def invoked_form(typed: str, on_path: str | None) -> str:
    """Return `claire` when `typed` is the `claire` PATH finds (`on_path`), else `typed`
    quoted for a shell.

    A program not named claire (the test runner, `python -m claire_cli`) is `claire`.
    Example: `invoked_form("./scripts/claire", None) == "./scripts/claire"`.
    """
    if Path(typed).name != "claire":
        return "claire"
    if on_path is not None and Path(on_path).resolve() == Path(typed).resolve():
        return "claire"
    if "/" not in typed:
        return "claire"  # a bare name: the shell found it on PATH
    return shlex.quote(typed)


@cache
def invoked_as() -> str:
    """This process's form of the `claire` command (see `invoked_form`); the first call
    takes WRAPPER_VARIABLE out of the environment."""
    typed = os.environ.pop(WRAPPER_VARIABLE, None) or sys.argv[0]
    return invoked_form(typed, shutil.which("claire"))


@cache
def _mention() -> re.Pattern[str]:
    from claire_cli.app import COMMANDS  # the root imports this module's users

    names = "|".join(re.escape(name) for name in COMMANDS)
    # Not after a path character: a mention already rewritten (./scripts/claire up) stays.
    return re.compile(rf"(?<![\w/.~-])claire(?= (?:{names})\b)")


def as_typed(text: str) -> str:
    """Return `text` with each `claire COMMAND` written as the user invoked claire."""
    return rewrite(text, invoked_as())


def rewrite(text: str, form: str) -> str:
    """Return `text` with each `claire COMMAND` written `form COMMAND` (a word that is no
    command, as in "claire needs", stays).

    Example: `rewrite("stop it: claire papertest stop", "./scripts/claire")` is
    `"stop it: ./scripts/claire papertest stop"`.
    """
    if form == "claire":
        return text
    return _mention().sub(lambda _: form, text)
