"""Helpers shared by the tests: waiting for a condition, building settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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
