"""`experiment_flow` with a `tuning:` block, under a real Prefect harness, with real MLflow on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from flows.experiment import experiment_flow
from pipeline.experiment.gate import TrialContext
from pipeline.tracking import configure_mlflow
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

TUNING = {
    "trials": 20,
    "metric": "sharpe",
    "seed": 7,
    "search_space": {
        "max_depth": {"type": "int", "low": 2, "high": 5},
        "eta": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
        "min_child_weight": {"type": "float", "low": 1.0, "high": 20.0, "log": True},
    },
}


def write(tmp_path: Path, name: str) -> Path:
    raw = experiment(name, tuning=TUNING)
    raw["model"].update(num_boost_round=30, early_stopping_rounds=10, params={"nthread": 1})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_experiment_flow_with_tuning_nests_20_trial_runs_under_the_experiment_run_and_gates_with_them(
    qg_home: Path, tmp_path: Path
) -> None:
    sweep = TrialContext(n_trials=3, source="sweep family f: 3 configs", trial_sharpes=(0.1, 0.2, 0.3))
    outcome = experiment_flow(str(write(tmp_path, "tuned-e2e")), trials=sweep)

    configure_mlflow()
    client = MlflowClient()
    run = client.get_run(outcome.run_id)
    assert run.info.status == "FINISHED"
    experiment_id = run.info.experiment_id
    trials = client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{outcome.run_id}'", max_results=100
    )
    assert len(trials) == 20
    study = run.data.tags["optuna.study"]
    assert {t.data.tags["optuna.study"] for t in trials} == {study}
    assert sorted(int(t.data.tags["optuna.trial_number"]) for t in trials) == list(range(20))
    assert {"tuned.max_depth", "tuned.eta", "tuned.min_child_weight"} <= set(run.data.params)
    assert run.data.metrics["tuning.n_trials"] == 20
    # The final model was trained with the study's best parameters.
    assert "sharpe" in run.data.metrics and "gate.passed" in run.data.tags
    # The gate counts the study's trials on top of the caller's.
    assert outcome.n_trials == 23
    assert "sweep family f: 3 configs" in outcome.n_trials_source
    assert f"optuna study {study}: 20 trials" in outcome.n_trials_source
    # Only one experiment run (the trials are its children), so a sweep sees one result per config.
    top_level = [
        r for r in client.search_runs([experiment_id], max_results=100) if "mlflow.parentRunId" not in r.data.tags
    ]
    assert [r.info.run_id for r in top_level] == [outcome.run_id]
