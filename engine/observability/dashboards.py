"""The three Grafana dashboards, generated in code and exported as JSON.

`python -m engine.observability.dashboards OUT_DIR` writes them; `monitoring/dashboards/`
holds the committed copies (a test checks they equal what this module generates, and that
every metric they query is exported by a running engine).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
P99_LATENCY = (
    "histogram_quantile(0.99, sum by (stage, le) (rate(claire_stage_handle_seconds_bucket[5m])))"
)


def _panel(
    number: int, title: str, exprs: Sequence[tuple[str, str]], unit: str = "short"
) -> dict[str, Any]:
    return {
        "id": number,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": (number - 1) % 2 * 12, "y": (number - 1) // 2 * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": DATASOURCE,
            }
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["claire"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    return {
        "portfolio-overview.json": _dashboard(
            "claire-portfolio",
            "claire — Portfolio Overview",
            [
                _panel(1, "Equity", [("claire_equity", "equity")], "currencyUSD"),
                _panel(2, "Fees paid", [("sum(claire_fees_total)", "fees")], "currencyUSD"),
                _panel(3, "Drawdown", [("claire_drawdown_ratio", "{{window}}")], "percentunit"),
                _panel(4, "Exposure", [("claire_exposure_ratio", "exposure")], "percentunit"),
            ],
        ),
        "trading-activity.json": _dashboard(
            "claire-trading",
            "claire — Trading Activity",
            [
                _panel(
                    1,
                    "Signals / min",
                    [("sum by (side) (rate(claire_signals_total[5m])) * 60", "{{side}}")],
                ),
                _panel(
                    2,
                    "Risk decisions / min by reason",
                    [
                        (
                            "sum by (outcome, reason) (rate(claire_risk_decisions_total[5m])) * 60",
                            "{{outcome}} {{reason}}",
                        )
                    ],
                ),
                _panel(
                    3,
                    "Fills / min",
                    [("sum by (symbol) (rate(claire_fills_total[5m])) * 60", "{{symbol}}")],
                ),
                _panel(
                    4,
                    "Order results by status",
                    [("sum by (status) (increase(claire_order_results_total[1h]))", "{{status}}")],
                ),
            ],
        ),
        "system-health.json": _dashboard(
            "claire-system",
            "claire — System Health",
            [
                _panel(
                    1, "Health checks (1 = passing)", [("claire_healthy", "{{instance}} {{check}}")]
                ),
                _panel(
                    2,
                    "Batch latency p99 by stage",
                    [(P99_LATENCY, "{{stage}}")],
                    "s",
                ),
                _panel(3, "Consumer lag", [("claire_consumer_lag", "{{stage}} {{stream}}")]),
                _panel(
                    4,
                    "Errors: dead letters and restarts",
                    [
                        ("increase(claire_dead_letters_total[1h])", "dead letters {{stage}}"),
                        ("increase(claire_stage_restarts_total[1h])", "restarts {{stage}}"),
                    ],
                ),
                _panel(
                    5,
                    "Events in / s by stage",
                    [("sum by (stage) (rate(claire_stage_events_in_total[5m]))", "{{stage}}")],
                ),
                _panel(
                    6,
                    "Last backup age",
                    [("time() - max(claire_last_backup_timestamp_seconds)", "age")],
                    "s",
                ),
            ],
        ),
    }


def provisioning(prometheus_url: str, dashboards_path: str) -> dict[str, dict[str, Any]]:
    """Grafana's provisioning files: the Prometheus datasource (the uid the dashboards use)
    and a provider loading the dashboards from `dashboards_path`. JSON is valid YAML."""
    return {
        "datasources/claire.yml": {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus",
                    "type": DATASOURCE["type"],
                    "uid": DATASOURCE["uid"],
                    "access": "proxy",
                    "url": prometheus_url,
                    "isDefault": True,
                    "editable": False,
                }
            ],
        },
        "dashboards/claire.yml": {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "claire",
                    "folder": "claire",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "options": {"path": dashboards_path},
                }
            ],
        },
    }


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in dashboards().items():
        path = directory / name
        path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    for path in write(Path(args[0] if args else "monitoring/dashboards")):
        print(path)


if __name__ == "__main__":
    main()
