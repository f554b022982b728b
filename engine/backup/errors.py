"""What can go wrong with a backup, named so the fix is clear."""

from __future__ import annotations

from engine.errors import PermanentError


class BackupError(PermanentError):
    """A backup could not be made, read or restored."""


class BackupNotFoundError(BackupError):
    """No backup matches."""


class BackupCorruptError(BackupError):
    """A backup's files do not match its manifest (truncated or altered)."""


class RestoreRefusedError(BackupError):
    """A restore was refused (a papertest is running, or not confirmed)."""
