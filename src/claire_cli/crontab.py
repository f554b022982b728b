"""Read and replace the user's crontab (for the nightly backup and the boot entry)."""

from __future__ import annotations

import subprocess

from engine.errors import PermanentError


def read_crontab() -> str:
    """The current crontab ('' when there is none)."""
    try:
        current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise PermanentError(
            f"could not read the crontab: {exc}", hint="install cron, or use --kind systemd"
        ) from None
    return current.stdout if current.returncode == 0 else ""


def write_crontab(lines: list[str]) -> None:
    try:
        subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PermanentError(
            f"could not install the cron entry: {exc}", hint="add the lines by hand"
        ) from None
