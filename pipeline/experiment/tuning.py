"""Tune an experiment inside its open MLflow run: the Optuna study, its trial runs nested under the run.

The run belongs to its :class:`pipeline.experiment.run.ExperimentRun` owner; this module only logs into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import ExperimentConfig
from pipeline.tracking import tags as T
from pipeline.tuning.study import TuningResult, default_study_name, tune

if TYPE_CHECKING:
    from pipeline.experiment.gate import TrialContext
    from pipeline.experiment.run import ExperimentRun
    from pipeline.split import Dataset


@dataclass(frozen=True)
class TunedExperiment:
    """What the flow needs after tuning.

    Attributes
    ----------
    best_params : dict[str, Any]
        XGBoost parameters to retrain with (``train(dataset, config, overrides)``).
    trials : TrialContext
        The trials behind the result for the gate: the caller's (a sweep's) plus the study's.
    result : TuningResult
        The study's result.
    """

    best_params: dict[str, Any]
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
    from pipeline.experiment.gate import TrialContext

    study = f"optuna study {result.study_name}: {result.n_trials} trials"
    if prior is None:
        return TrialContext(n_trials=result.n_trials, source=study, trial_sharpes=tuple(result.trial_sharpes))
    return TrialContext(
        n_trials=prior.n_trials + result.n_trials,
        source=f"{prior.source} + {study}",
        trial_sharpes=tuple(prior.trial_sharpes) + tuple(result.trial_sharpes),
    )


def tune_experiment(
    run: ExperimentRun,
    dataset: Dataset,
    config: ExperimentConfig,
    periods_per_year: float,
    trials: TrialContext | None = None,
) -> TunedExperiment:
    """Run the Optuna study with its trial runs nested under ``run``; log the study and the best parameters.

    Parameters
    ----------
    run : ExperimentRun
        The experiment's open run (its owner ends it, also when this raises).
    dataset : Dataset
        Train and validation segments (the study never sees the test segment).
    config : ExperimentConfig
        The experiment; ``config.tuning`` must be set.
    periods_per_year : float
        Bars per year, for annualised metrics.
    trials : TrialContext, optional
        Trials the caller (a sweep) already counts.

    Returns
    -------
    TunedExperiment
        The best parameters and the trials for the gate.
    """
    run.stage("tuning")
    logger = run.logger
    logger.set_tags({T.OPTUNA_STUDY: default_study_name(config)})
    result = tune(dataset, config, periods_per_year=periods_per_year, parent_run_id=run.run_id)
    logger.set_tags(
        {
            T.OPTUNA_STUDY: result.study_name,
            T.OPTUNA_STORAGE: result.storage,
            T.OPTUNA_METRIC: result.metric,
            T.OPTUNA_DIRECTION: result.direction,
            T.OPTUNA_BEST_TRIAL: result.best_trial_number,
        }
    )
    logger.log_params({f"tuned.{name}": value for name, value in result.best_params.items()})
    logger.log_metrics({"tuning.best_value": result.best_value, "tuning.n_trials": result.n_trials})
    return TunedExperiment(best_params=dict(result.best_params), trials=combine_trials(trials, result), result=result)
