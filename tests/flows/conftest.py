"""Fixtures for end-to-end flow tests: experiment files written into a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

LENIENT_GATE = {
    "min_holding_periods": 0,
    "min_total_return": -10.0,
    "min_sharpe": -10.0,
    "win_rate_min": 0.0,
    "win_rate_max": 1.0,
    "require_beat_buy_and_hold": False,
    "min_psr": 0.0,
    "min_dsr": 0.0,
    "max_bootstrap_pvalue": 1.0,
    "min_coverage": 0.9,
}


def experiment(name: str, **overrides: object) -> dict:
    """A small, fast experiment on the embedded sample data (AAPL 2006-2012, daily)."""
    raw: dict = {
        "name": name,
        "hypothesis": "test hypothesis",
        "data": {"source": "sample", "symbol": "AAPL", "timeframe": "1d", "start": "2006-01-01", "end": "2012-12-31"},
        "target": {"kind": "binary", "holding_period": 5},
        "model": {"device": "cpu", "num_boost_round": 60, "early_stopping_rounds": 10},
        "strategy": {"mode": "long_flat"},
        "gate": dict(LENIENT_GATE, bootstrap_reps=200, leakage_cuts=3),
        "registry": {"promote": True},
    }
    for key, value in overrides.items():
        raw[key] = value if not isinstance(value, dict) else {**raw.get(key, {}), **value}
    return raw


@pytest.fixture
def write_experiment(tmp_path: Path) -> Callable[..., Path]:
    """Write an experiment YAML into the test's temp folder and return its path."""

    def write(name: str, **overrides: object) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(experiment(name, **overrides), sort_keys=False))
        return path

    return write


@pytest.fixture
def sqlite_stores(qg_home: Path) -> Path:
    """Embedded default stores (SQLite) in a temp QUANTGATE_HOME."""
    return qg_home


@pytest.fixture
def postgres_stores(qg_home: Path, pg_url: str, pg_mlflow_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """quantgate's tables and MLflow both on PostgreSQL (artifacts in the temp home)."""
    monkeypatch.setenv("QUANTGATE_DB_URL", pg_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pg_mlflow_url)
    return pg_url, pg_mlflow_url
