"""`claire boot`: what starts claire's servers and its supervisor after a reboot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claire_cli.context import state
from claire_cli.crontab import read_crontab, write_crontab
from claire_cli.output import console
from engine.backup.schedule import claire_command
from engine.supervision import boot as entry

SYSTEMD_DIR = Path("/etc/systemd/system")


def boot(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option("--kind", help="cron or systemd.")] = "cron",
    install: Annotated[bool, typer.Option("--install", help="Install the entry.")] = False,
    uninstall: Annotated[bool, typer.Option("--uninstall", help="Remove the entry.")] = False,
) -> None:
    """Print (or install) the boot entry that starts claire after a reboot.

    At boot, and every few minutes after, the entry runs `claire up` from this directory
    with this CLAIRE_HOME: the servers start, then the supervisor, which resumes a papertest
    the reboot interrupted and restarts a dead server or engine from then on.

    Examples:
      claire boot
      claire boot --install
      claire boot --kind systemd --install
      claire boot --uninstall
    """
    if kind not in ("cron", "systemd"):
        raise typer.BadParameter(f"kind {kind!r}: choose cron or systemd")
    if install and uninstall:
        raise typer.BadParameter("--install and --uninstall: choose one")
    home = state(ctx).settings().home
    command = entry.boot_command(claire_command(), home, Path.cwd())
    if kind == "cron":
        _cron(command, home, install=install, uninstall=uninstall)
    else:
        _systemd(command, install=install, uninstall=uninstall)


def _cron(command: str, home: Path, *, install: bool, uninstall: bool) -> None:
    lines = entry.cron_lines(command, home)
    if not (install or uninstall):
        console.print("\n".join(lines), markup=False, soft_wrap=True)
        return
    kept = entry.without_entry(read_crontab(), home)
    write_crontab(kept if uninstall else [*kept, *lines])
    console.print("removed the boot entry" if uninstall else "installed the boot entry:")
    if install:
        console.print("\n".join(lines), markup=False, soft_wrap=True)


def _systemd(command: str, *, install: bool, uninstall: bool) -> None:
    units = entry.systemd_units(command)
    for name, text in units.items():
        path = SYSTEMD_DIR / name
        if uninstall:
            path.unlink(missing_ok=True)
            console.print(f"removed {path}")
        elif install:
            path.write_text(text)
            console.print(f"installed {path}")
        else:
            console.print(f"# {name}\n{text}", markup=False, soft_wrap=True)
    if install:
        console.print(f"now: systemctl daemon-reload && systemctl enable --now {entry.UNIT}.timer")
    if uninstall:
        console.print(f"now: systemctl disable --now {entry.UNIT}.timer; systemctl daemon-reload")
