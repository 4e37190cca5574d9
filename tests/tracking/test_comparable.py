"""Runs people can compare in MLflow: dataset inputs, run names and the leaderboard."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow

from pipeline.config import config_hash
from pipeline.experiment.run import run_name
from pipeline.sweep import leaderboard
from pipeline.tracking import configure_mlflow, data_fingerprint, start_run
from pipeline.tracking import tags as T
from tests.stubs import random_walk_bars
from tests.tracking.builders import experiment


def test_log_data_fingerprint_when_logged_adds_the_bars_as_dataset_input(qg_home: Path) -> None:
    configure_mlflow()
    bars = random_walk_bars(80)
    with start_run("datasets", run_name="AAPL-1d") as run:
        run.log_data_fingerprint(bars, "sample", "AAPL", "1d", "2010-01-01", "2012-12-31")
    inputs = mlflow.MlflowClient().get_run(run.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.digest == data_fingerprint(bars)[:32]
    assert dataset.name == "AAPL-1d@sample[2010-01-01..2012-12-31]"
    assert json.loads(dataset.source)["fingerprint"] == data_fingerprint(bars)
    assert dataset.source_type == "quantgate-bars"
    assert json.loads(dataset.profile)["num_rows"] == 80
    assert {(t.key, t.value) for t in inputs[0].tags} == {("mlflow.data.context", "training")}


def test_run_name_when_config_given_names_symbol_timeframe_variant_and_hash(tmp_path: Path) -> None:
    config, _ = experiment(tmp_path, name="mom-aapl")
    assert run_name(config) == f"AAPL-1d-long-flat-{config_hash(config)[:6]}"


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


def test_ensure_experiment_when_created_or_found_marks_it_a_model_development_experiment(qg_home: Path) -> None:
    from pipeline.tracking import ensure_experiment

    configure_mlflow()
    client = mlflow.MlflowClient()
    made = ensure_experiment("kinds")
    assert client.get_experiment(made).tags[T.EXPERIMENT_KIND] == T.EXPERIMENT_KIND_ML
    older = client.create_experiment("older")  # as an older quantgate made it: no kind
    assert ensure_experiment("older") == older
    assert client.get_experiment(older).tags[T.EXPERIMENT_KIND] == "custom_model_development"
    view = json.loads(client.get_experiment(older).tags["mlflow.sharedViewState.quantgate"])
    assert "metrics.`gate_passed`" in view["selectedColumns"] and view["orderByKey"] == "metrics.`sharpe`"
