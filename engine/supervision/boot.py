"""What starts claire again after a reboot: a cron pair or a systemd service and timer.

The entry runs `claire up` in the directory it was installed from (so ./.env is read) with
that CLAIRE_HOME: the servers start, then the supervisor, which resumes a papertest the
reboot interrupted. The entry runs again every few minutes, so a supervisor that died is
started again too; `claire up` does nothing when everything runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

UNIT = "claire-runtime"
#: Marks claire's lines in a crontab, so an install replaces them and an uninstall finds them.
CRON_MARK = "# claire boot entry"
EVERY_MINUTES = 5


def boot_command(claire: str, home: Path, workdir: Path) -> str:
    """The shell command the entry runs: `claire up`, its output appended to a log."""
    logs = home / "logs"  # made first: the shell opens the log before claire runs
    log = logs / "boot.log"
    return (
        f"mkdir -p {shlex.quote(str(logs))} && "
        f"cd {shlex.quote(str(workdir))} && CLAIRE_HOME={shlex.quote(str(home))} "
        f"{shlex.quote(claire)} up >> {shlex.quote(str(log))} 2>&1"
    )


def cron_lines(command: str, home: Path) -> list[str]:
    """At boot, and every few minutes after (it restarts a supervisor that died)."""
    mark = f"{CRON_MARK} ({home})"
    return [f"@reboot {command} {mark}", f"*/{EVERY_MINUTES} * * * * {command} {mark}"]


def without_entry(crontab: str, home: Path) -> list[str]:
    """The crontab's lines but claire's boot entry for `home`."""
    mark = f"{CRON_MARK} ({home})"
    return [line for line in crontab.splitlines() if not line.endswith(mark)]


def systemd_units(command: str) -> dict[str, str]:
    """Return {file name: content}: a oneshot service at boot and a timer repeating it."""
    service = (
        "[Unit]\n"
        "Description=claire's servers, supervisor and interrupted papertest\n"
        "After=network.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart=/bin/sh -c {shlex.quote(command)}\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Start claire's supervisor again if it died\n\n"
        "[Timer]\n"
        "OnBootSec=1min\n"
        f"OnUnitActiveSec={EVERY_MINUTES}min\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}
