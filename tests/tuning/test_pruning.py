"""The XGBoost pruning callback, with real Optuna trials and real training."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from pipeline.config import ExperimentConfig
from pipeline.split import Dataset
from pipeline.tracking import configure_mlflow
from pipeline.training import train_model
from pipeline.tuning import XGBoostPruningCallback, higher_is_better, tune
from tests.tuning.builders import PERIODS_PER_YEAR, signal_dataset, tuning_config


def test_higher_is_better_knows_xgboost_metric_directions() -> None:
    assert not higher_is_better("logloss") and not higher_is_better("mlogloss") and not higher_is_better("error")
    assert higher_is_better("auc") and higher_is_better("ndcg@5") and higher_is_better("map")


def test_callback_when_study_minimizes_reports_logloss_each_round_and_trains_to_the_end(
    dataset: Dataset, config: ExperimentConfig
) -> None:
    study = optuna.create_study(direction="minimize", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    callback = XGBoostPruningCallback(trial, "logloss", "minimize")
    model = train_model(dataset, config, callbacks=[callback])
    values = study.trials[0].intermediate_values
    assert sorted(values) == list(range(model.booster.num_boosted_rounds()))
    assert all(0.0 < value < 1.0 for value in values.values())


def test_callback_when_study_maximizes_reports_negated_logloss() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=-0.5))
    trial = study.ask()
    config = tuning_config()
    with pytest.raises(optuna.TrialPruned, match="pruned at round 0"):
        train_model(signal_dataset(config), config, callbacks=[XGBoostPruningCallback(trial, "logloss", "maximize")])
    values = study.trials[0].intermediate_values
    assert list(values) == [0]
    assert -1.0 < values[0] < -0.5  # -logloss of a first round near log(2)


def test_callback_when_pruner_says_prune_raises_trial_pruned_inside_training(
    dataset: Dataset, config: ExperimentConfig
) -> None:
    study = optuna.create_study(direction="minimize", pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    trial = study.ask()
    callback = XGBoostPruningCallback(trial, "logloss", "minimize", report_every=3)
    with pytest.raises(optuna.TrialPruned):
        train_model(dataset, config, callbacks=[callback])
    assert callback.last_step == 0
    assert list(study.trials[0].intermediate_values) == [0]


@pytest.mark.slow
def test_tune_when_some_trials_are_hopeless_prunes_them(tuning_home: Path, dataset: Dataset) -> None:
    config = tuning_config(
        "tune-prune",
        trials=8,
        search_space={
            "eta": {"type": "categorical", "choices": [0.3, 1e-5]},
            "max_depth": {"type": "int", "low": 2, "high": 3},
        },
    )
    result = tune(dataset, config, periods_per_year=PERIODS_PER_YEAR)
    assert result.n_trials == 8
    configure_mlflow()
    client = MlflowClient()
    experiment = client.get_experiment_by_name("tune-prune")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`optuna.state` = 'PRUNED'")
    assert runs, "no trial was pruned"
    for run in runs:
        assert run.info.status == "KILLED"
        assert float(run.data.params["eta"]) in (0.3, 1e-5)
        assert "pruned_at_round" in run.data.metrics
    assert len(result.trial_sharpes) == 8 - len(runs)
