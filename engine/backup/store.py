"""The backup directory: list, find, prune; half-written backups never count."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.backup.errors import BackupCorruptError, BackupNotFoundError
from engine.backup.manifest import MANIFEST, VERIFIED, Manifest

PARTIAL = ".partial"


@dataclass(frozen=True)
class Backup:
    """A complete backup on disk."""

    directory: Path
    manifest: Manifest

    @property
    def backup_id(self) -> str:
        return self.manifest.backup_id

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.directory.iterdir() if f.is_file())

    @property
    def verification(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.directory / VERIFIED).read_text())
        except (OSError, ValueError):
            return None
        return data


class BackupStore:
    """Backups under one directory, newest last."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def all(self) -> list[Backup]:
        """Every complete backup, oldest first (a directory without manifest is not one, nor
        is one whose manifest is damaged: see `damaged`)."""
        return self._scan()[0]

    def damaged(self) -> list[tuple[Path, BackupCorruptError]]:
        """Backups whose manifest cannot be read, with what is wrong."""
        return self._scan()[1]

    def _scan(self) -> tuple[list[Backup], list[tuple[Path, BackupCorruptError]]]:
        found: list[Backup] = []
        broken: list[tuple[Path, BackupCorruptError]] = []
        if not self.directory.exists():
            return found, broken
        for path in sorted(self.directory.iterdir()):
            if path.is_dir() and not path.name.endswith(PARTIAL) and (path / MANIFEST).exists():
                try:
                    found.append(Backup(path, Manifest.read(path)))
                except BackupCorruptError as exc:
                    broken.append((path, exc))
        return sorted(found, key=lambda b: b.manifest.created_at), broken

    def get(self, backup_id: str | None) -> Backup:
        """Return the backup `backup_id` (a unique prefix is enough), or the newest."""
        backups = self.all()
        for path, problem in self.damaged():
            if backup_id is not None and path.name.startswith(backup_id):
                raise problem
        if not backups:
            broken = self.damaged()
            if broken:
                raise broken[-1][1]
            raise BackupNotFoundError(f"no backup in {self.directory}", hint="claire backup")
        if backup_id is None:
            return backups[-1]
        matches = [b for b in backups if b.backup_id.startswith(backup_id)]
        exact = [b for b in matches if b.backup_id == backup_id]
        if exact or len(matches) == 1:
            return (exact or matches)[0]
        if not matches:
            raise BackupNotFoundError(f"no backup {backup_id!r}", hint="claire backup list")
        raise BackupNotFoundError(f"{backup_id!r} matches several backups")

    def clean_partials(self) -> list[Path]:
        """Remove what a crash left half-written; return what was removed."""
        if not self.directory.exists():
            return []
        removed = [p for p in self.directory.iterdir() if p.name.endswith(PARTIAL)]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        return removed

    def prune(self, keep: timedelta, now: datetime, *, dry_run: bool = False) -> list[Backup]:
        """Delete backups older than `keep`; never the newest one, nor the newest that passed
        verification (the newest good one); return the deleted."""
        backups = self.all()
        verified = [b for b in backups if (b.verification or {}).get("ok")]
        kept = {b.backup_id for b in backups[-1:] + verified[-1:]}
        doomed = [
            b for b in backups if b.backup_id not in kept and now - b.manifest.created_at > keep
        ]
        if not dry_run:
            for backup in doomed:
                shutil.rmtree(backup.directory)
        return doomed
