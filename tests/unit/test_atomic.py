"""Files written whole: a reader never sees half of one, two writers never trip each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.atomic import replaced_atomically, write_atomically


def test_two_writers_of_one_file_at_once_then_both_finish_and_the_last_stays(
    tmp_path: Path,
) -> None:
    """The engine writing a run's report while a user's `claire papertest report` writes it."""
    path = tmp_path / "report.md"
    with replaced_atomically(path) as first, replaced_atomically(path) as second:
        first.write_bytes(b"the engine's")
        second.write_bytes(b"the user's")
    assert path.read_bytes() == b"the engine's"  # the first block ends last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_a_writer_that_fails_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    write_atomically(path, b"old")

    def half_written() -> None:
        with replaced_atomically(path) as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        half_written()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["trades.csv"]
