"""The boot entry: `claire up` from the install directory, at boot and every few minutes."""

from __future__ import annotations

import shlex
from pathlib import Path

from engine.supervision.boot import boot_command, cron_lines, systemd_units, without_entry

HOME = Path("/var/lib/claire home")


def test_boot_command_makes_the_log_dir_then_runs_up_in_the_install_directory() -> None:
    command = boot_command("/opt/claire/bin/claire", HOME, Path("/srv/trading"))

    assert shlex.split(command) == [
        "mkdir", "-p", f"{HOME}/logs", "&&", "cd", "/srv/trading", "&&",
        f"CLAIRE_HOME={HOME}", "/opt/claire/bin/claire", "up",
        ">>", f"{HOME}/logs/boot.log", "2>&1",
    ]  # fmt: skip


def test_cron_lines_at_reboot_and_every_five_minutes_each_marked_with_the_home() -> None:
    reboot, repeat = cron_lines("claire up", HOME)

    assert reboot == f"@reboot claire up # claire boot entry ({HOME})"
    assert repeat == f"*/5 * * * * claire up # claire boot entry ({HOME})"


def test_without_entry_keeps_every_other_line_and_other_homes_entries() -> None:
    other = cron_lines("claire up", Path("/elsewhere"))
    crontab = "\n".join(["0 2 * * * claire backup --quiet", *cron_lines("claire up", HOME), *other])

    assert without_entry(crontab, HOME) == ["0 2 * * * claire backup --quiet", *other]


def test_systemd_units_run_the_command_through_a_shell_at_boot_and_on_a_timer() -> None:
    units = systemd_units("cd /srv && claire up")

    assert "ExecStart=/bin/sh -c 'cd /srv && claire up'" in units["claire-runtime.service"]
    assert "OnUnitActiveSec=5min" in units["claire-runtime.timer"]
