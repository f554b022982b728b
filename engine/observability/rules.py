"""Prometheus configuration and alert rules, generated from the settings.

The thresholds are claire's own risk settings, so an alert fires at the same drawdown the
engine acts on. Written as JSON, which is valid YAML, so no YAML library is needed.
`python -m engine.observability.rules OUT_DIR` writes `prometheus.yml` and `claire.rules.yml`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.settings import Settings

JOB = "claire"


def alert_rules(settings: Settings) -> dict[str, Any]:
    """The alert rules, with the risk settings' levels."""
    risk = settings.risk
    lag = settings.monitor.max_consumer_lag
    specs: list[tuple[str, str, str, str, str, str]] = [
        (
            "ClaireDrawdownAlert",
            f'claire_drawdown_ratio{{window="max"}} > {risk.alert_drawdown}',
            "1m",
            "warning",
            "Drawdown above the alert level",
            "max drawdown {{ $value | humanizePercentage }} is above the alert level",
        ),
        (
            "ClaireDrawdownAbort",
            f'claire_drawdown_ratio{{window="max"}} > {risk.abort_drawdown}',
            "0m",
            "critical",
            "Drawdown beyond the abort level: the papertest halts",
            "max drawdown {{ $value | humanizePercentage }}",
        ),
        (
            "ClaireStageDown",
            f'up{{job="{JOB}"}} == 0',
            "2m",
            "critical",
            "An engine process does not answer",
            "{{ $labels.instance }} is down",
        ),
        (
            "ClaireStageUnhealthy",
            "claire_healthy == 0",
            "2m",
            "warning",
            "An engine health check fails",
            "{{ $labels.instance }}: {{ $labels.check }} failing",
        ),
        (
            "ClaireMarketDataStale",
            'claire_healthy{check="input"} == 0',
            "1m",
            "critical",
            "No market data is arriving",
            "{{ $labels.instance }} has had no input",
        ),
        (
            "ClaireConsumerLagGrowing",
            f"claire_consumer_lag > {lag} and deriv(claire_consumer_lag[5m]) > 0",
            "5m",
            "warning",
            "A stage falls behind",
            "{{ $labels.stage }} is {{ $value }} behind",
        ),
        (
            "ClaireExecutionErrors",
            'sum(rate(claire_order_results_total{status="rejected"}[10m]))'
            " / clamp_min(sum(rate(claire_order_results_total[10m])), 1e-9) > 0.1",
            "5m",
            "warning",
            "More than 10 % of order results are rejections",
            "rejection rate {{ $value | humanizePercentage }}",
        ),
        (
            "ClaireDeadLetters",
            "increase(claire_dead_letters_total[10m]) > 0",
            "0m",
            "warning",
            "Messages were dead-lettered",
            "{{ $labels.stage }} gave up on messages",
        ),
        (
            "ClaireBackupTooOld",
            "time() - max(claire_last_backup_timestamp_seconds) > 26 * 3600",
            "10m",
            "warning",
            "The last backup is older than 26 hours",
            "run: claire backup",
        ),
    ]
    rules = [_rule(spec) for spec in specs]
    return {"groups": [{"name": "claire", "rules": rules}]}


def _rule(spec: tuple[str, str, str, str, str, str]) -> dict[str, Any]:
    """(name, expression, for, severity, summary, description) -> a Prometheus rule."""
    name, expr, for_, severity, summary, description = spec
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def prometheus_config(
    targets: Sequence[str],
    rules_file: str = "claire.rules.yml",
    interval: str = "15s",
    *,
    target_files: Sequence[str] = (),
) -> dict[str, Any]:
    """Scrape every engine process (host:port, and those listed in `target_files`, globs
    Prometheus watches) every `interval`, with the rules loaded."""
    scrape: dict[str, Any] = {"job_name": JOB, "static_configs": [{"targets": list(targets)}]}
    if target_files:
        # Watched; re-read every 30 s as well, should a change slip past the watch.
        scrape["file_sd_configs"] = [{"files": list(target_files), "refresh_interval": "30s"}]
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [rules_file],
        "scrape_configs": [scrape],
    }


def write(directory: Path, settings: Settings, targets: Sequence[str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    rules = directory / "claire.rules.yml"
    config = directory / "prometheus.yml"
    rules.write_text(json.dumps(alert_rules(settings), indent=2) + "\n")
    config.write_text(json.dumps(prometheus_config(targets), indent=2) + "\n")
    return [rules, config]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "monitoring/prometheus")
    settings = Settings()
    target = f"{settings.monitor.host}:{settings.monitor.port}"
    for path in write(out, settings, [target]):
        print(path)


if __name__ == "__main__":
    main()
