"""The nightly `claire backup` as a cron line, a systemd service + timer, or a Windows task."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

UNIT = "claire-backup"


def claire_command() -> str:
    """The absolute path of the `claire` installed beside the running Python (a venv's),
    else the one on PATH, else the program running now."""
    beside = Path(sys.executable).parent / "claire"
    if beside.is_file():
        return str(beside)
    found = shutil.which("claire")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.argv[0]).resolve())


def cron_line(at: str, command: str) -> str:
    hours, minutes = at.split(":")
    return f"{int(minutes)} {int(hours)} * * * {command} backup --quiet"


def systemd_units(at: str, command: str) -> dict[str, str]:
    """Return {file name: content} of a oneshot service and its daily timer."""
    service = (
        "[Unit]\n"
        "Description=claire nightly backup\n"
        "After=network.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={command} backup --quiet\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Run claire backup daily\n\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {at}:00\n"
        "Persistent=true\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def windows_task(at: str, command: str) -> str:
    action = f'\\"{command}\\" backup --quiet'
    return f'schtasks /Create /SC DAILY /ST {at} /TN "claire backup" /TR "{action}" /F'
