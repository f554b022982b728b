"""sql/README.md describes every table and column the code expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.storage.schema import TABLES, Table

README = (Path(__file__).resolve().parents[2] / "sql" / "README.md").read_text()
ENVELOPE = {"event_id", "run_id", "ts_event", "ts_init", "source", "schema_version"}


def section(table: str) -> str:
    match = re.search(rf"^### `{table}`.*?(?=^### |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match is not None, f"sql/README.md has no section for {table}"
    return match.group(0)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_readme_describes_every_column(table: Table) -> None:
    text = section(table.name)

    missing = [c for c in table.column_names if c not in ENVELOPE and f"`{c}`" not in text]

    assert missing == []
