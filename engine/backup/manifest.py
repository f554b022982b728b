"""The manifest written beside every backup: what it holds and how to check it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.backup.errors import BackupCorruptError

MANIFEST = "manifest.json"
VERIFIED = "verify.json"
DUMP = "database.dump"
SETTINGS_COPY = "settings.env"


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """Everything known about a backup when it was made."""

    backup_id: str
    created_at: datetime
    claire_version: str
    postgres_version: str
    database: str
    tables: dict[str, int]
    files: dict[str, FileEntry]
    label: str | None = None
    #: The oldest papertest running when the backup was made (None: none ran).
    active_run: dict[str, Any] | None = None
    #: Every papertest running when the backup was made, oldest first.
    active_runs: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read a backup's manifest; raise BackupCorruptError naming what is wrong with it."""
        try:
            return cls._parse(json.loads((directory / MANIFEST).read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupCorruptError(
                f"backup {directory.name}: {MANIFEST} is damaged ({type(exc).__name__}: {exc})",
                hint="the backup cannot be verified or restored; take a new one",
            ) from None

    @classmethod
    def _parse(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            backup_id=data["backup_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            claire_version=data["claire_version"],
            postgres_version=data["postgres_version"],
            database=data["database"],
            tables={k: int(v) for k, v in data["tables"].items()},
            files={k: FileEntry(**v) for k, v in data["files"].items()},
            label=data.get("label"),
            active_run=data.get("active_run"),
            active_runs=list(
                data.get("active_runs") or ([data["active_run"]] if data.get("active_run") else [])
            ),
            extra=data.get("extra") or {},
        )


def file_entry(path: Path) -> FileEntry:
    """Hash a file in chunks (dumps can be large)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)
