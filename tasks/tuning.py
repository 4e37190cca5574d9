"""Tune the model's parameters with an Optuna study before the final training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import get_run_logger, task

from pipeline.config import ExperimentConfig
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.record import open_experiment_run
from pipeline.split import Dataset
from pipeline.tuning import TuningResult, default_study_name, tune
from tasks._common import IN_MEMORY


@dataclass(frozen=True)
class TunedExperiment:
    """What the flow needs after tuning.

    Attributes
    ----------
    best_params : dict[str, Any]
        XGBoost parameters to retrain with (``train(dataset, config, overrides)``).
    run_id : str
        The experiment's MLflow run, opened before tuning so the trial runs nest under it; pass it to
        ``log_run(run_id=...)``.
    experiment_name : str
        The MLflow experiment of that run.
    trials : TrialContext
        The trials behind the result for the gate: the caller's (a sweep's) plus the study's.
    result : TuningResult
        The study's result.
    """

    best_params: dict[str, Any]
    run_id: str
    experiment_name: str
    trials: TrialContext
    result: TuningResult


def combine_trials(prior: TrialContext | None, result: TuningResult) -> TrialContext:
    """Return the trial context for the gate: the study's trials, added to ``prior`` when a caller gave one.

    Parameters
    ----------
    prior : TrialContext, optional
        Trials the caller (a sweep) already counts.
    result : TuningResult
        The study's result.

    Returns
    -------
    TrialContext
        ``n_trials`` summed, Sharpe ratios concatenated, ``source`` naming both.
    """
    study = f"optuna study {result.study_name}: {result.n_trials} trials"
    if prior is None:
        return TrialContext(n_trials=result.n_trials, source=study, trial_sharpes=tuple(result.trial_sharpes))
    return TrialContext(
        n_trials=prior.n_trials + result.n_trials,
        source=f"{prior.source} + {study}",
        trial_sharpes=tuple(prior.trial_sharpes) + tuple(result.trial_sharpes),
    )


@task(name="tune", **IN_MEMORY)
def tune_model(
    dataset: Dataset,
    config: ExperimentConfig,
    periods_per_year: float,
    parent_run_id: str | None = None,
    trials: TrialContext | None = None,
) -> TunedExperiment:
    """Open the experiment's MLflow run, run the Optuna study with trial runs nested under it, return the best.

    The run is left open (RUNNING) for ``log_run(run_id=...)``; it is ended FAILED if tuning fails.
    """
    run = open_experiment_run(config, parent_run_id=parent_run_id, tags={"optuna.study": default_study_name(config)})
    try:
        result = tune(dataset, config, periods_per_year=periods_per_year, parent_run_id=run.run_id)
        run.set_tags(
            {
                "optuna.study": result.study_name,
                "optuna.storage": result.storage,
                "optuna.metric": result.metric,
                "optuna.direction": result.direction,
                "optuna.best_trial_number": result.best_trial_number,
            }
        )
        run.log_params({f"tuned.{name}": value for name, value in result.best_params.items()})
        run.log_metrics({"tuning.best_value": result.best_value, "tuning.n_trials": result.n_trials})
    except BaseException:
        run.end("FAILED")
        raise
    get_run_logger().info(
        "optuna study %s: %d finished trials, best %s %.4g with %s",
        result.study_name,
        result.n_trials,
        result.metric,
        result.best_value,
        result.best_params,
    )
    return TunedExperiment(
        best_params=dict(result.best_params),
        run_id=run.run_id,
        experiment_name=config.name,
        trials=combine_trials(trials, result),
        result=result,
    )


@task(name="end-tuned-run", **IN_MEMORY)
def end_tuned_run(tuned: TunedExperiment, status: str = "FAILED") -> None:
    """End the run opened by :func:`tune_model` when the flow fails before ``log_run`` took it over."""
    from pipeline.tracking import RunLogger

    RunLogger(tuned.run_id, tuned.experiment_name).end(status)
