"""The leaderboard: the latest finished run per (config, data), traders ranked before flat runs."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.sweep import leaderboard
from pipeline.tracking import configure_mlflow, start_run
from pipeline.tracking import tags as T


def _completed(experiment_name: str, key: str, fingerprint: str, sharpe: float, n_trades: float) -> str:
    tags = {T.CONFIG_HASH: key, T.DATA_FINGERPRINT: fingerprint, T.STATUS: T.STATUS_COMPLETED, T.SYMBOL: key}
    with start_run(experiment_name, run_name=key, tags=tags) as run:
        run.log_metrics({"sharpe": sharpe, "n_trades": n_trades, "max_drawdown": 0.1})
    time.sleep(0.01)  # distinct start times, so "latest" is well defined
    return run.run_id


def test_leaderboard_when_reruns_and_flat_runs_keeps_latest_per_key_and_traders_first(qg_home: Path) -> None:
    configure_mlflow()
    name = "board"
    _completed(name, "aaa", "fp1", sharpe=3.0, n_trades=12)  # superseded by the rerun below
    latest_a = _completed(name, "aaa", "fp1", sharpe=1.0, n_trades=12)
    other_data = _completed(name, "aaa", "fp2", sharpe=0.5, n_trades=8)
    b = _completed(name, "bbb", "fp1", sharpe=2.0, n_trades=20)
    flat = _completed(name, "ccc", "fp1", sharpe=9.0, n_trades=0)  # best Sharpe, but never traded

    board = leaderboard([name], limit=10)
    assert list(board["run_id"]) == [b, latest_a, other_data, flat]
    assert list(board["sharpe"]) == [2.0, 1.0, 0.5, 9.0]
    assert list(leaderboard([name], limit=2)["run_id"]) == [b, latest_a]
    assert list(leaderboard([name], sort="max_drawdown", limit=10)["run_id"])[-1] == flat
