"""The HTML report renders in a headless browser with its charts visible."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from engine.engine_process.run import PapertestEngine
from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from engine.reports import write_report
from engine.runs.registry import RunParameters, RunRepository
from engine.runs.service import connect, register
from engine.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def replayed_run(settings: Settings, tmp_path: Path) -> str:
    market = tmp_path / "market.csv"
    candles = synthetic_candles(
        ("BTCUSDT", "ETHUSDT"), datetime(2026, 1, 5, tzinfo=UTC), 400, seed=7
    )
    write_market_file(market, candles, Layout.CANDLES)
    parameters = RunParameters(
        "6h", Decimal(100_000), ("BTCUSDT", "ETHUSDT"), f"replay:{market}", "max", "momentum"
    )
    with connect(settings) as conn:
        run = register(settings, parameters, conn, "screenshot")
    PapertestEngine(settings, run.run_id).run()
    return run.run_id


def share_of(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 24) -> float:
    colour = np.array(rgb) / 255
    close = np.all(np.abs(pixels[:, :, :3] - colour) <= tolerance / 255, axis=2)
    return float(close.mean())


def test_html_report_in_a_headless_browser_shows_the_charts(
    settings: Settings, tmp_path: Path
) -> None:
    if BROWSER is None:
        pytest.skip("no chromium on this machine (scripts/test installs it with apt-get)")
    run_id = replayed_run(settings, tmp_path)
    written = write_report(settings, run_id, tmp_path / "report", ["html"])
    with connect(settings) as conn:
        assert RunRepository(conn).get(run_id).status == "completed"

    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,2200",
            written.paths[0].as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = image.imread(str(shot))
    top = pixels[: pixels.shape[0] // 2]
    # The equity line (matplotlib blue) and the drawdown fill (light red) are on screen.
    assert share_of(top, (31, 119, 180)) > 0.0005, "no equity curve visible"
    assert share_of(pixels, (241, 168, 169), tolerance=30) > 0.001, "no drawdown chart visible"
