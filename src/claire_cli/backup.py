"""`claire backup` (bare: make one), `backup list/verify/prune/schedule`, `claire restore`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from claire_cli.arguments import JsonOption, duration_option, time_of_day_option
from claire_cli.context import state
from claire_cli.crontab import read_crontab, write_crontab
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json
from engine.backup import schedule as plans
from engine.backup.errors import BackupCorruptError, RestoreRefusedError
from engine.backup.operations import create_backup, restore_backup, verify_backup
from engine.backup.store import Backup, BackupStore
from engine.durations import format_duration

app = typer.Typer(
    help="Back up claire's database and settings; every backup can be verified by a restore.",
    invoke_without_command=True,
)

#: The longest `--keep`: as long as CLAIRE_BACKUP_RETENTION_DAYS allows.
LONGEST_RETENTION = timedelta(days=3650)


@app.callback()
def backup(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Directory (default CLAIRE_BACKUP_DIR).")] = None,
    label: Annotated[str | None, typer.Option(help="A word to recognise it by.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    json: JsonOption = False,
) -> None:
    """Make a backup now (what the nightly schedule runs), then prune by retention.

    Examples:
      claire backup
      claire backup --label before-strategy-change
      claire backup list
    """
    if ctx.invoked_subcommand is not None:
        return
    cli = state(ctx)
    settings = cli.settings()
    with console.status("dumping the database"):
        made = create_backup(settings, out_dir=out, label=label, env_file=cli.env_file)
    store = BackupStore(made.directory.parent)
    pruned = store.prune(timedelta(days=settings.backup.retention_days), datetime.now(UTC))
    if json:
        print_json(
            {
                "backup_id": made.backup_id,
                "path": str(made.directory),
                "bytes": made.size,
                "rows": made.manifest.tables,
                "pruned": [b.backup_id for b in pruned],
            }
        )
    elif not quiet:
        console.print(
            f"[green]backup[/] {made.backup_id}: {made.manifest.rows:,} rows, "
            f"{made.size / 2**20:.1f} MiB in {made.directory}"
        )
        for old in pruned:
            console.print(f"pruned {old.backup_id}")


def _store(ctx: typer.Context) -> BackupStore:
    return BackupStore(state(ctx).settings().backup_dir)


@app.command("list")
def list_backups(ctx: typer.Context, json: JsonOption = False) -> None:
    """List backups: age, size, rows, verified or not. Example: claire backup list"""
    store = _store(ctx)
    backups, damaged = store.all(), store.damaged()
    now = datetime.now(UTC)
    rows = [
        {
            "backup_id": b.backup_id,
            "created_at": b.manifest.created_at.isoformat(),
            "age_seconds": (now - b.manifest.created_at).total_seconds(),
            "bytes": b.size,
            "rows": b.manifest.rows,
            "verified": (b.verification or {}).get("ok"),
        }
        for b in backups
    ]
    rows += [{"backup_id": path.name, "damaged": problem.message} for path, problem in damaged]
    if json:
        print_json(rows)
        return
    if not rows:
        console.print(as_typed("no backup yet — claire backup"))
        return
    console.print(_backups_table(backups, damaged, now))


def _backups_table(
    backups: list[Backup], damaged: list[tuple[Path, BackupCorruptError]], now: datetime
) -> Table:
    """The backups, one a row. An id is printed whole (verify and restore take it); the
    other columns wrap or fold."""
    ids = [b.backup_id for b in backups] + [path.name for path, _ in damaged]
    table = Table(box=None, pad_edge=False)
    table.add_column("backup", no_wrap=True, min_width=max(len(i) for i in ids))
    table.add_column("age", overflow="fold")
    for column in ("size", "rows"):
        table.add_column(column, justify="right", overflow="fold")
    table.add_column("verified", overflow="fold")
    marks = {True: "[green]yes[/]", False: "[red]FAILED[/]"}
    for b in backups:
        table.add_row(
            b.backup_id,
            format_duration(now - b.manifest.created_at),
            f"{b.size / 2**20:.1f} MiB",
            f"{b.manifest.rows:,}",
            marks.get(bool((b.verification or {}).get("ok")), "not yet")
            if b.verification is not None
            else "not yet",
        )
    for path, _ in damaged:
        table.add_row(path.name, "-", "-", "-", "[red]DAMAGED[/] (manifest unreadable)")
    return table


@app.command()
def verify(
    ctx: typer.Context,
    backup_id: Annotated[
        str | None, typer.Argument(help="Backup id (default: the newest).")
    ] = None,
    latest: Annotated[bool, typer.Option("--latest", help="The newest backup.")] = False,
    json: JsonOption = False,
) -> None:
    """Restore a backup into a scratch database and compare it with its manifest.

    Exit code 1 when anything differs; a truncated or altered file is named.
    Example: claire backup verify --latest
    """
    settings = state(ctx).settings()
    found = _store(ctx).get(None if latest else backup_id)
    with console.status(f"restoring {found.backup_id} into a scratch database"):
        result = verify_backup(settings, found)
    if json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(f"[green]verified[/] {found.backup_id}: {found.manifest.rows:,} rows match")
    else:
        for problem in result.problems:
            console.print(f"[red]{problem}[/]")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def prune(
    ctx: typer.Context,
    keep: Annotated[str | None, typer.Option(help="Keep this long, e.g. 14d.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
) -> None:
    """Delete backups older than the retention; the newest good one always stays.

    Example: claire backup prune --keep 7d --dry-run
    """
    span = duration_option(keep, "--keep", longest=LONGEST_RETENTION) if keep else None
    settings = state(ctx).settings()
    span = span or timedelta(days=settings.backup.retention_days)
    gone = BackupStore(settings.backup_dir).prune(span, datetime.now(UTC), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for old in gone:
        console.print(f"{verb} {old.backup_id}")
    if not gone:
        console.print("nothing to prune")


@app.command("schedule")
def schedule_cmd(
    ctx: typer.Context,
    at: Annotated[
        str | None, typer.Option(help="Time of day, HH:MM (default CLAIRE_BACKUP_AT).")
    ] = None,
    install: Annotated[
        bool, typer.Option("--install", help="Install it (systemd or cron).")
    ] = False,
    kind: Annotated[str, typer.Option("--kind", help="cron, systemd or windows.")] = "cron",
) -> None:
    """Print (or install) the daily `claire backup` for cron, systemd or Windows.

    Examples:
      claire backup schedule --kind systemd
      claire backup schedule --at 02:30 --kind cron --install
    """
    chosen = time_of_day_option(at, "--at") if at is not None else None
    if kind not in ("cron", "systemd", "windows"):
        raise typer.BadParameter(f"kind {kind!r}: choose cron, systemd or windows")
    when = chosen or state(ctx).settings().backup.at
    command = plans.claire_command()
    if kind == "cron":
        line = plans.cron_line(when, command)
        if install:
            _install_cron(line)
        console.print(line)
    elif kind == "systemd":
        units = plans.systemd_units(when, command)
        for name, text in units.items():
            if install:
                (Path("/etc/systemd/system") / name).write_text(text)
                console.print(f"installed /etc/systemd/system/{name}")
            else:
                console.print(f"# {name}\n{text}")
        if install:
            console.print(
                f"now: systemctl daemon-reload && systemctl enable --now {plans.UNIT}.timer"
            )
    else:
        console.print(plans.windows_task(when, command))


def _install_cron(line: str) -> None:
    current = read_crontab().splitlines()
    kept = [entry for entry in current if "backup --quiet" not in entry]
    write_crontab([*kept, line])


def restore(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="The backup to restore (claire backup list).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Even while a papertest runs.")] = False,
) -> None:
    """Replace claire's database with a backup's (a safety backup is taken first).

    The backup is restored into a new database and checked there before it is swapped in,
    so a failure leaves the current database as it was.
    Example: claire restore 20261124T010000123456Z --yes
    """
    settings = state(ctx).settings()
    found = BackupStore(settings.backup_dir).get(backup_id)
    if not yes and not typer.confirm(
        f"Replace the database with backup {found.backup_id} ({found.manifest.rows:,} rows)?"
    ):
        raise RestoreRefusedError("restore not confirmed")
    with console.status(f"restoring {found.backup_id}"):
        done = restore_backup(settings, found, force=force)
    console.print(f"[green]restored[/] {found.backup_id} (safety backup {done.safety.backup_id})")
    for table, rows in sorted(done.tables.items()):
        if rows:
            console.print(f"  {table}: {rows:,} rows")
    console.print(f"the previous database is kept as {done.previous_database}")
