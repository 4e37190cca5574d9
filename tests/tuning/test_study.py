"""`tune` against real Optuna storage (SQLite and PostgreSQL) and real MLflow."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from pipeline import settings
from pipeline.backtest import run_backtest
from pipeline.config import ExperimentConfig
from pipeline.split import Dataset
from pipeline.store import BarStore, dispose_all
from pipeline.tracking import configure_mlflow, ensure_experiment, start_run
from pipeline.training import train_model
from pipeline.tuning import SURPLUS_ATTR, WORKER_ATTR, default_study_name, open_storage, tune
from tests.conftest import REPO
from tests.stubs import random_walk_bars
from tests.tuning.builders import PERIODS_PER_YEAR, tuning_config


class SegmentTripwire:
    """Stands in for the test segment: any use of it fails the trial, and with it the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"tuning read the test segment ({name})")

    def __len__(self) -> int:
        raise AssertionError("tuning read the test segment (len)")


def trial_runs(experiment_name: str, study_name: str) -> list:
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`optuna.study` = '{study_name}'", max_results=1000
    )


def load_study(name: str, url: str | None = None) -> optuna.Study:
    storage = open_storage(url)
    return optuna.load_study(study_name=name, storage=storage)


def test_tune_on_sqlite_runs_six_trials_nested_under_the_parent_on_validation_only(
    tuning_home: Path, dataset: Dataset, config: ExperimentConfig
) -> None:
    configure_mlflow()
    parent = start_run(config.name, run_name="experiment-run")
    guarded = dataclasses.replace(dataset, test=SegmentTripwire())

    result = tune(guarded, config, periods_per_year=PERIODS_PER_YEAR, parent_run_id=parent.run_id)

    assert result.n_trials == 6
    assert result.study_name == default_study_name(config)
    assert result.storage == f"sqlite:///{tuning_home / 'quantgate.db'}"
    assert 2 <= result.best_params["max_depth"] <= 4 and isinstance(result.best_params["max_depth"], int)
    assert 0.05 <= result.best_params["eta"] <= 0.3
    study = load_study(result.study_name)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    assert len(finished) == 6 and len(study.trials) == 6
    assert len(result.trial_sharpes) == len(complete) >= 1
    assert result.best_value == max(t.value for t in complete)

    runs = trial_runs(config.name, result.study_name)
    assert len(runs) == 6
    assert {run.data.tags["mlflow.parentRunId"] for run in runs} == {parent.run_id}
    assert sorted(int(run.data.tags["optuna.trial_number"]) for run in runs) == list(range(6))
    for run in runs:
        assert set(run.data.params) == {"max_depth", "eta"}
        if run.data.tags["optuna.state"] == "COMPLETE":
            assert run.info.status == "FINISHED"
            assert {"objective", "val_sharpe", "val_total_return", "best_iteration"} <= set(run.data.metrics)

    # The objective is the Sharpe ratio of a backtest over the validation segment: recompute it.
    model = train_model(dataset, config, overrides=result.best_params)
    features = dataset.validation.features
    proba = pd.DataFrame(model.predict_proba(features), index=features.index)
    validation = run_backtest(dataset.validation.bars, proba, config, PERIODS_PER_YEAR)
    assert result.best_value == pytest.approx(validation.metrics["sharpe"], rel=1e-9)


def test_tune_keeps_quantgate_tables_usable_in_the_same_database(
    tuning_home: Path, dataset: Dataset, config: ExperimentConfig
) -> None:
    tune(dataset, config, periods_per_year=PERIODS_PER_YEAR, study_name="shared-db")
    dispose_all()  # migrate again from scratch: quantgate's migration history must be intact
    store = BarStore()
    bars = random_walk_bars(20)
    assert store.upsert(bars, source="sample", symbol="SHARED", timeframe="1d").inserted == 20
    end = bars.index[-1] + pd.Timedelta(days=1)  # windows are half-open: [start, end)
    assert len(store.load("SHARED", "1d", bars.index[0], end, sources=["sample"])) == 20
    assert len(load_study("shared-db").trials) == 6


@pytest.mark.slow
def test_tune_when_rerun_resumes_the_study_without_exceeding_its_target(
    tuning_home: Path, dataset: Dataset, config: ExperimentConfig
) -> None:
    configure_mlflow()
    first = tune(dataset, tuning_config(trials=3), periods_per_year=PERIODS_PER_YEAR, study_name="resume")
    assert first.n_trials == 3
    second = tune(dataset, tuning_config(trials=5), periods_per_year=PERIODS_PER_YEAR, study_name="resume")
    assert second.n_trials == 5
    again = tune(dataset, tuning_config(trials=5), periods_per_year=PERIODS_PER_YEAR, study_name="resume")
    assert again.n_trials == 5
    assert again.best_params == second.best_params
    assert [t.number for t in load_study("resume").trials] == list(range(5))
    assert len(trial_runs(config.name, "resume")) == 5


def test_tune_when_existing_study_has_the_other_direction_refuses(
    tuning_home: Path, dataset: Dataset, config: ExperimentConfig
) -> None:
    from pipeline.errors import TuningError

    tune(dataset, tuning_config(trials=1), periods_per_year=PERIODS_PER_YEAR, study_name="direction")
    with pytest.raises(TuningError, match=r"created to maximize.*asks to minimize"):
        logloss = tuning_config(trials=2, metric="logloss")
        tune(dataset, logloss, periods_per_year=PERIODS_PER_YEAR, study_name="direction")


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tests.tuning.builders import PERIODS_PER_YEAR, signal_dataset, tuning_config
    from pipeline.tuning import tune

    folder, index, study_name, trials = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    config = tuning_config("tune-two-workers", trials=trials)
    dataset = signal_dataset(config)
    (folder / f"ready-{index}").touch()
    deadline = time.monotonic() + 120
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.02)
    result = tune(dataset, config, periods_per_year=PERIODS_PER_YEAR, study_name=study_name)
    print(json.dumps({"n_trials": result.n_trials}))
    """
)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_postgres_finish_one_study_with_exactly_n_unique_trials(
    qg_home: Path, pg_url: str, pg_mlflow_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = 10
    study_name = f"two-workers-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("QUANTGATE_DB_URL", pg_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pg_mlflow_url)
    # Shared set-up a deployment does once: MLflow's schema and experiment. Optuna's tables and the study
    # itself are created by the workers, concurrently.
    configure_mlflow()
    ensure_experiment("tune-two-workers")
    (tmp_path / "worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "worker.py"), str(tmp_path), str(i), study_name, str(target)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{i}").exists() for i in range(2)):
            assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
            assert time.monotonic() < deadline, "workers never got ready"
            time.sleep(0.05)
        (tmp_path / "go").touch()
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1])["n_trials"] <= target

    study = load_study(study_name, pg_url)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    numbers = [t.number for t in study.trials]
    assert len(finished) == target
    assert len(numbers) == len(set(numbers)) == len(study.trials)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert all(t.user_attrs.get(SURPLUS_ATTR) for t in study.trials if t.state == TrialState.FAIL)
    assert len({t.user_attrs[WORKER_ATTR] for t in finished}) == 2, "both processes should have run trials"
    runs = trial_runs("tune-two-workers", study_name)
    assert len(runs) == target
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == sorted(t.number for t in finished)
    assert settings.db_url() == pg_url
    assert np.isfinite(study.best_value)
