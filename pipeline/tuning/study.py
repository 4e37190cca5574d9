"""Run an Optuna study per experiment on quantgate's own database, one nested MLflow run per trial.

The study lives in the database of :func:`pipeline.settings.db_url` (SQLite by default, PostgreSQL for
many workers) under the name ``<experiment>-<config hash>``, so running the same config again resumes
the same study and several processes (or machines) pointed at one PostgreSQL database share the work.
A study stops at ``tuning.trials`` finished (complete + pruned) trials counted across all workers:

- before optimising, a worker that finds the target already reached runs nothing;
- :class:`optuna.study.MaxTrialsCallback` stops a worker once the target is reached;
- a trial that starts while the trials numbered before it (finished or still running) already reach
  the target is *surplus*: it is marked FAIL without training, so concurrent workers never overshoot.

Optuna numbers trials inside a locked transaction, so numbers are unique across workers.

The storage is :mod:`pipeline.tuning.storage`; the objective (one nested MLflow run per trial) is
:mod:`pipeline.tuning.objective`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline import settings
from pipeline.config import ExperimentConfig, config_hash
from pipeline.errors import TuningError
from pipeline.tuning.objective import VAL_SHARPE_ATTR, SurplusTrial, TuningView, make_objective
from pipeline.tuning.space import check_search_space, study_direction
from pipeline.tuning.storage import open_storage

if TYPE_CHECKING:
    import optuna

    from pipeline.split import Dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningResult:
    """What a study found.

    Attributes
    ----------
    best_params : dict[str, Any]
        The best trial's sampled XGBoost parameters (pass as ``overrides`` to ``train_model``).
    best_value : float
        The best trial's objective value on the validation segment.
    n_trials : int
        Finished (COMPLETE + PRUNED) trials in the study, across all workers.
    trial_sharpes : tuple[float, ...]
        Annualised validation Sharpe ratio of every COMPLETE trial, in trial-number order.
    study_name : str
        The Optuna study.
    storage : str
        The storage URL, password redacted.
    metric : str
        The objective metric.
    direction : str
        ``maximize`` or ``minimize``.
    best_trial_number : int
        Number of the best trial.
    """

    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    trial_sharpes: tuple[float, ...]
    study_name: str
    storage: str
    metric: str = "sharpe"
    direction: str = "maximize"
    best_trial_number: int = -1


def default_study_name(config: ExperimentConfig) -> str:
    """Return ``<experiment name>-<config hash>``: the same config resumes the same study.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment.

    Returns
    -------
    str
        The study name.
    """
    return f"{config.name}-{config_hash(config)}"


def _finished_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def _count_finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=_finished_states()))


def tune(
    dataset: Dataset | TuningView,
    config: ExperimentConfig,
    *,
    periods_per_year: float,
    storage_url: str | None = None,
    study_name: str | None = None,
    parent_run_id: str | None = None,
) -> TuningResult:
    """Run (or resume, or join) the experiment's Optuna study and return its best parameters.

    Every trial trains with the sampled parameters on ``dataset.train``, early-stops on
    ``dataset.validation`` and is scored on the validation segment only (``tuning.metric``); the test
    segment is never read. Each trial is an MLflow run in the experiment ``config.name``, nested under
    ``parent_run_id`` when given, with the sampled params, the objective and validation metrics, and
    tags ``optuna.study``, ``optuna.trial_number`` and ``optuna.state``.

    Parameters
    ----------
    dataset : Dataset or TuningView
        The split dataset (only ``train`` and ``validation`` are read).
    config : ExperimentConfig
        The experiment; ``config.tuning`` must be set.
    periods_per_year : float
        Bars per year, to annualise validation Sharpe ratios.
    storage_url : str, optional
        Database for the study; defaults to quantgate's (:func:`pipeline.settings.db_url`).
    study_name : str, optional
        Defaults to :func:`default_study_name` (resumes the same study for the same config).
    parent_run_id : str, optional
        MLflow run to nest the trial runs under (the experiment's run).

    Returns
    -------
    TuningResult
        Best params and value, the finished-trial count and the COMPLETE trials' validation Sharpes.

    Raises
    ------
    TuningError
        If there is no tuning block, the search space is invalid, the storage cannot be opened, an
        existing study has another direction, or no trial completed.
    """
    import optuna
    from optuna.trial import TrialState

    tuning = config.tuning
    if tuning is None:
        raise TuningError(f"experiment {config.name}: no tuning block")
    check_search_space(tuning.search_space)
    direction = study_direction(tuning)
    name = study_name or default_study_name(config)
    url = storage_url or settings.db_url()
    redacted = settings.redact_url(url)
    view = TuningView.from_dataset(dataset)

    storage = open_storage(url)
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner: optuna.pruners.BasePruner = (
            optuna.pruners.MedianPruner(
                n_startup_trials=min(5, max(1, tuning.trials // 2)),
                n_warmup_steps=min(10, max(1, config.model.num_boost_round // 10)),
            )
            if tuning.pruning
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=tuning.seed),
            pruner=pruner,
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise TuningError(
                f"Optuna study {name} ({redacted}) was created to {study.direction.name.lower()}, "
                f"this config asks to {direction}; use another study name"
            )
        remaining = tuning.trials - _count_finished(study)
        if remaining > 0:
            objective = make_objective(
                view,
                config,
                periods_per_year=periods_per_year,
                target=tuning.trials,
                study_name=name,
                direction=direction,
                parent_run_id=parent_run_id,
            )
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=tuning.timeout_s,
                catch=(SurplusTrial,),
                callbacks=[optuna.study.MaxTrialsCallback(tuning.trials, states=_finished_states())],
                gc_after_trial=False,
            )
        trials = study.get_trials(deepcopy=False)
        complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.number)
        n_finished = sum(1 for t in trials if t.state in _finished_states())
        if not complete:
            raise TuningError(f"Optuna study {name} ({redacted}): no trial completed ({n_finished} pruned)")
        best = study.best_trial
        sharpes = tuple(float(t.user_attrs[VAL_SHARPE_ATTR]) for t in complete if VAL_SHARPE_ATTR in t.user_attrs)
        return TuningResult(
            best_params=dict(best.params),
            best_value=float(best.value) if best.value is not None else float("nan"),
            n_trials=n_finished,
            trial_sharpes=sharpes,
            study_name=name,
            storage=redacted,
            metric=tuning.metric,
            direction=direction,
            best_trial_number=best.number,
        )
    finally:
        storage.remove_session()
        storage.engine.dispose()
