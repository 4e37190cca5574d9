"""Tune the model's parameters with an Optuna study before the final training."""

from __future__ import annotations

from prefect import get_run_logger, task

from pipeline.config import ExperimentConfig
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.run import ExperimentRun
from pipeline.experiment.tuning import TunedExperiment, tune_experiment
from pipeline.split import Dataset
from tasks._common import IN_MEMORY


@task(name="tune", **IN_MEMORY)
def tune_model(
    run: ExperimentRun,
    dataset: Dataset,
    config: ExperimentConfig,
    periods_per_year: float,
    trials: TrialContext | None = None,
) -> TunedExperiment:
    """Run the Optuna study inside the experiment's open run (trial runs nest under it); return the best."""
    tuned = tune_experiment(run, dataset, config, periods_per_year, trials)
    result = tuned.result
    get_run_logger().info(
        "optuna study %s: %d finished trials, best %s %.4g with %s",
        result.study_name,
        result.n_trials,
        result.metric,
        result.best_value,
        result.best_params,
    )
    return tuned
