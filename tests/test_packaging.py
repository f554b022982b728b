"""The project installs from a wheel too: code, SQL migrations and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("claire_de_binare-*.whl")
    return built


@pytest.mark.slow
def test_wheel_holds_engine_cli_and_every_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (ROOT / "sql").glob("*.sql"))

    assert migrations
    assert {f"engine/sql/{name}" for name in migrations} <= names
    assert "engine/__init__.py" in names
    assert "claire_cli/app.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


@pytest.mark.slow
def test_wheel_install_finds_migrations_as_package_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = (
        "import engine.storage.migrations as m, pathlib;"
        "files = m.migration_files();"
        "assert files, 'no migrations found';"
        "print(pathlib.Path(str(files[0].path)).parent)"
    )
    # Only the unpacked wheel and the venv's dependencies on the path: not the checkout.
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(target))
