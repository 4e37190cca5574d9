"""Backtest the model's predictions on the test segment, after costs."""

import pandas as pd
from prefect import task

from pipeline.backtest import BacktestResult, run_backtest
from pipeline.config import ExperimentConfig
from pipeline.experiment.walk_forward import pool_folds
from pipeline.split import Dataset
from pipeline.training import TrainedModel
from tasks._common import IN_MEMORY


@task(name="backtest", **IN_MEMORY)
def backtest(
    dataset: Dataset, model: TrainedModel, config: ExperimentConfig, periods_per_year: float
) -> BacktestResult:
    """Predict every test bar that has features and trade the predictions."""
    features = dataset.test.features
    proba = pd.DataFrame(model.predict_proba(features), index=features.index)
    return run_backtest(dataset.test.bars, proba, config, periods_per_year)


@task(name="pool-folds", **IN_MEMORY)
def pool(results: list[BacktestResult], periods_per_year: float) -> BacktestResult:
    """Chain walk-forward folds' test segments into one out-of-sample backtest."""
    return pool_folds(results, periods_per_year)
