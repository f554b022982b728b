"""Resident memory of this process, now and at its peak, in MB (Linux: /proc/self/status)."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_mb(key: str) -> float:
    for line in _STATUS.read_text(encoding="ascii").splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    return _status_mb("VmRSS:")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent across fork and exec), in MB."""
    return _status_mb("VmHWM:")
