"""Runs people can compare in MLflow: dataset inputs and the saved compare view.

Run names are tested in tests/experiment/test_run.py, the leaderboard in tests/sweep/test_leaderboard.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from pipeline.tracking import configure_mlflow, data_fingerprint, start_run
from pipeline.tracking import tags as T
from tests.stubs import random_walk_bars


@pytest.mark.usefixtures("mlflow_seeded")
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


@pytest.mark.usefixtures("mlflow_seeded")
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
