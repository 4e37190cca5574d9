"""Trials remembered across history (read back from a real MLflow store) and order-independent sweep DSR."""

from __future__ import annotations

import random
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pipeline.config import ExperimentConfig
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.trials import combine, family_key, history_trials
from pipeline.gate import DeflatedSharpeRule
from pipeline.sweep.trials import sibling_trials
from pipeline.tracking import tags as T
from pipeline.tracking.mlflow_setup import configure_mlflow
from tests.gate.builders import passing_evidence

FIRST = pd.Timestamp("2010-01-04", tz="UTC")
LAST = pd.Timestamp("2015-12-31", tz="UTC")


def make_config(**data: object) -> ExperimentConfig:
    base = {"source": "sample", "symbol": "AAPL", "timeframe": "1d", "start": "2010-01-01", "end": "2015-12-31"}
    return ExperimentConfig(name="hist", hypothesis="h", data={**base, **data})


def log_run(
    config: ExperimentConfig,
    sharpe: float,
    *,
    first: pd.Timestamp = FIRST,
    last: pd.Timestamp = LAST,
    sweep: str | None = None,
    own_trials: int = 1,
) -> str:
    client = MlflowClient()
    experiment = client.get_experiment_by_name("hist") or client.get_experiment(client.create_experiment("hist"))
    tags = {
        T.DATA_FAMILY: family_key(config),
        T.STATUS: T.STATUS_COMPLETED,
        T.FAMILY_FIRST_BAR: first.isoformat(),
        T.FAMILY_LAST_BAR: last.isoformat(),
        T.OWN_TRIALS: str(own_trials),
    }
    if sweep:
        tags[T.SWEEP_FAMILY] = sweep
    run = client.create_run(experiment.experiment_id, tags=tags)
    client.log_metric(run.info.run_id, "sharpe", sharpe)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


@pytest.fixture
def mlflow_store(qg_home: Path, pg_mlflow_url: str) -> None:
    configure_mlflow(pg_mlflow_url)
    yield
    mlflow.set_tracking_uri(None)


def test_twenty_separate_runs_give_n_of_at_least_twenty_in_the_twentieth(mlflow_store: None) -> None:
    config = make_config(symbol="TWNTY")
    for i in range(19):
        log_run(config, sharpe=0.1 * i)
    log_run(make_config(symbol="MSFT"), sharpe=3.0)  # another family: not counted
    log_run(config, sharpe=2.0, first=pd.Timestamp("2000-01-03", tz="UTC"), last=pd.Timestamp("2005-01-03", tz="UTC"))
    log_run(config, sharpe=1.0, own_trials=30)  # a tuned run counts its study's trials
    history = history_trials(config, FIRST, LAST)
    assert history is not None and history.n_trials == 19 + 30
    trials = combine(TrialContext(), history)  # the 20th run itself plus its history
    assert trials is not None and trials.n_trials >= 20
    assert "history of data family sample|TWNTY|1d|binary" in trials.source
    assert len(trials.trial_sharpes) == 20


def test_sweep_item_dsr_does_not_depend_on_finish_order(mlflow_store: None) -> None:
    config = make_config(symbol="ORDR")  # the MLflow store is shared by the session: a family of its own
    for sharpe in (0.3, -0.2, 0.8):
        log_run(config, sharpe=sharpe)  # earlier history outside the sweep
    sharpes = [0.5, 1.5, -0.4, 0.9, 2.2, 0.0, 1.1, -1.0]
    evidence_returns = np.random.default_rng(3).normal(0.001, 0.01, 600)
    benchmark = np.random.default_rng(4).normal(0.0, 0.01, 600)

    def item_dsr(finished: list[int]) -> float:
        for i in finished:
            log_run(config, sharpe=sharpes[i], sweep="sweep-s")
        trials = combine(
            sibling_trials("sweep-s", len(sharpes)),
            history_trials(config, FIRST, LAST, exclude_sweep_family="sweep-s"),
        )
        assert trials is not None and trials.n_trials == 8 + 3
        evidence = passing_evidence(
            strategy_returns=evidence_returns,
            benchmark_returns=benchmark,
            n_trials=trials.n_trials,
            trial_sharpes=list(trials.trial_sharpes),
            n_trials_source=trials.source,
        )
        return float(DeflatedSharpeRule(0.95).evaluate(evidence).value)

    order = list(range(8))
    random.Random(7).shuffle(order)
    first = item_dsr(order[:2])  # the item finishes second ...
    second = item_dsr(order[2:7])  # ... or seventh, after other siblings
    assert abs(first - second) <= 1e-9
    assert (
        first
        < DeflatedSharpeRule(0.95)
        .evaluate(passing_evidence(strategy_returns=evidence_returns, benchmark_returns=benchmark))
        .value
    )  # deflation happened
