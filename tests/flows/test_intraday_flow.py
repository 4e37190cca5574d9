"""Intraday experiments end to end on data served by the local Binance-shaped server (no internet).

The shipped ``experiments/btc_hourly.yaml`` runs through the real ``quantgate run`` command, and a
minute-bar experiment through ``experiment_flow``; both must reach a gate verdict, which means the
hole-free series passed the quality suite (on_grid, coverage) for the whole half-open window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.experiment import experiment_flow
from pipeline.store import BarStore
from tests.conftest import REPO
from tests.fakes.fixtures import *  # noqa: F403 - binance_fake and its environment
from tests.stubs import random_walk_bars

pytestmark = pytest.mark.slow


def _hole_free(freq: str, n: int) -> object:
    """A perfect series from 2018-06-01 00:00 UTC: ``n`` bars, no holes, gentle moves."""
    return random_walk_bars(n, start="2018-06-01", freq=freq, seed=21, price=7500.0)


def test_quantgate_run_when_the_shipped_hourly_btc_file_is_served_locally_reaches_a_gate_verdict(
    binance_fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = binance_fake.add("BTCUSDT", "1h", _hole_free("1h", 30 * 24))  # 2018-06-01 .. 2018-06-30 23:00
    env = {
        "PATH": "/usr/bin:/bin",
        "QUANTGATE_HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "QUANTGATE_BINANCE_URL": os.environ["QUANTGATE_BINANCE_URL"],
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # a fresh PREFECT_HOME migrates first
    }
    exe = Path(sys.executable).with_name("quantgate")
    result = subprocess.run(
        [str(exe), "run", str(REPO / "experiments" / "btc_hourly.yaml")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "btc-hourly" in result.stdout
    assert "tier 1 sanity" in result.stdout and "tier 3 statistics" in result.stdout
    assert "on_grid" not in result.stdout + result.stderr
    monkeypatch.setenv("QUANTGATE_HOME", env["QUANTGATE_HOME"])  # read the store the run wrote
    stored = BarStore().load("BTCUSDT", "1h", "2018-06-01", "2018-06-30", sources=["binance"])
    assert len(stored) == len(served) == 720
    assert stored.index[-1].isoformat() == "2018-06-30T23:00:00+00:00"  # a date-only end includes its day


@pytest.mark.usefixtures("prefect_harness")
def test_experiment_flow_when_minute_bars_are_served_locally_reaches_a_gate_verdict(
    binance_fake, qg_home: Path, write_experiment: Callable[..., Path]
) -> None:
    binance_fake.add("BTCUSDT", "1m", _hole_free("1min", 2 * 24 * 60))
    path = write_experiment(
        "btc-minute",
        data={"source": "binance", "symbol": "BTCUSDT", "timeframe": "1m", "start": "2018-06-01", "end": "2018-06-02"},
        features={"groups": ["returns", "volatility", "trend"]},
        registry={"promote": False},
    )
    outcome = experiment_flow(str(path))
    assert outcome.timeframe == "1m"
    assert outcome.window == "2018-06-01 00:00 .. 2018-06-02 23:59 (2880 bars)"
    assert isinstance(outcome.gate_passed, bool) and outcome.rules
    coverage = {r.name: r for r in outcome.rules}.get("data_coverage")
    assert coverage is None or coverage.passed


@pytest.mark.usefixtures("prefect_harness")
def test_experiment_flow_when_a_served_bar_spikes_ten_fold_stops_at_quality_naming_the_row(
    binance_fake, qg_home: Path, write_experiment: Callable[..., Path]
) -> None:
    from pipeline.errors import DataQualityError

    bars = _hole_free("1h", 30 * 24)
    spike = bars.index[400]
    bars.loc[spike, ["open", "high", "low", "close"]] *= 10.0
    binance_fake.add("BTCUSDT", "1h", bars)
    path = write_experiment(
        "btc-spike",
        data={"source": "binance", "symbol": "BTCUSDT", "timeframe": "1h", "start": "2018-06-01", "end": "2018-06-30"},
    )
    with pytest.raises(DataQualityError) as err:
        experiment_flow(str(path))
    assert f"no_price_jump (2 rows, e.g. ts={spike.isoformat()})" in str(err.value)
