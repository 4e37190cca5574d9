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

Optuna keeps its schema version in Alembic's default ``alembic_version`` table; quantgate's migrations
use their own ``quantgate_alembic_version``, so the two histories never mix. quantgate's schema is
migrated first (workers racing on a fresh database retry), then Optuna's tables are created beside it
and its ``version_info`` row is compared with the running Optuna's schema version.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline import settings
from pipeline.config import ExperimentConfig, config_hash
from pipeline.errors import TuningError, first_line
from pipeline.tracking import tags as T
from pipeline.tuning.objective import TuningView, score_on_validation
from pipeline.tuning.pruning import XGBoostPruningCallback
from pipeline.tuning.space import check_search_space, study_direction, suggest_params

if TYPE_CHECKING:
    import optuna

    from pipeline.split import Dataset
    from pipeline.tracking import RunLogger

logger = logging.getLogger(__name__)

#: Trial user attributes written by :func:`tune`.
VAL_SHARPE_ATTR = "val_sharpe"
SURPLUS_ATTR = "quantgate.surplus"
WORKER_ATTR = "quantgate.worker"

#: Heartbeats let a worker that starts later fail the RUNNING trials of a worker that was killed.
HEARTBEAT_INTERVAL_S = 30
HEARTBEAT_GRACE_S = 120

#: Upper bound on pruning reports (database writes) per trial; the callback reports every k-th round.
MAX_REPORTS_PER_TRIAL = 50

#: MLflow tags on trial runs.
ROLE_TAG = T.ROLE
TRIAL_ROLE = "tuning-trial"


class SurplusTrial(Exception):
    """Raised inside the objective when a trial would take the study past its target."""


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


def _engine_kwargs(url: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def open_storage(url: str | None = None, *, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Open Optuna's RDB storage on quantgate's database, creating its tables if needed.

    Parameters
    ----------
    url : str, optional
        Database URL; defaults to :func:`pipeline.settings.db_url`.
    attempts : int
        Tries when workers create the tables (quantgate's or Optuna's) at the same moment.

    Returns
    -------
    optuna.storages.RDBStorage
        The storage (call ``storage.engine.dispose()`` when done).

    Raises
    ------
    TuningError
        If the database cannot be reached, or holds Optuna tables of another schema version.
    """
    import optuna
    from optuna.storages._rdb import models as optuna_models
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.errors import StoreError
    from pipeline.store.database import ensure_schema

    url = url or settings.db_url()
    redacted = settings.redact_url(url)
    # quantgate's migrations first (their own version table). Workers starting together on a
    # fresh database race to create the same tables; the loser retries once the winner has committed.
    for attempt in range(attempts):
        try:
            ensure_schema(url)
            break
        except StoreError as exc:
            if attempt == attempts - 1:
                raise TuningError(f"Optuna storage {redacted}: {exc}") from exc
            time.sleep(0.5 * (attempt + 1))
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=_engine_kwargs(url),
                    skip_compatibility_check=True,
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=HEARTBEAT_GRACE_S,
                )
            break
        except SQLAlchemyError as exc:  # two workers creating the tables at once
            last = exc
            time.sleep(0.5 * (attempt + 1))
    else:
        raise TuningError(
            f"Optuna storage {redacted}: cannot create tables: {first_line(last) if last else ''}"
        ) from last
    with storage.engine.connect() as conn:
        from sqlalchemy import select

        row = conn.execute(select(optuna_models.VersionInfoModel.schema_version)).first()
    if row is not None and row[0] != optuna_models.SCHEMA_VERSION:
        storage.engine.dispose()
        raise TuningError(
            f"Optuna storage {redacted}: tables have schema version {row[0]}, this Optuna expects "
            f"{optuna_models.SCHEMA_VERSION}; use the Optuna version that created them"
        )
    return storage


def _finished_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def _count_finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=_finished_states()))


def _trial_logger(config: ExperimentConfig, study_name: str, trial_number: int, parent_run_id: str | None) -> RunLogger:
    from pipeline.tracking import start_run

    return start_run(
        config.name,
        run_name=f"trial-{trial_number:03d}",
        tags={
            T.OPTUNA_STUDY: study_name,
            T.OPTUNA_TRIAL_NUMBER: trial_number,
            T.OPTUNA_STATE: "RUNNING",
            ROLE_TAG: TRIAL_ROLE,
        },
        nested=parent_run_id is not None,
        parent_run_id=parent_run_id,
    )


def _make_objective(
    view: TuningView,
    config: ExperimentConfig,
    *,
    periods_per_year: float,
    target: int,
    study_name: str,
    direction: str,
    parent_run_id: str | None,
) -> Any:
    import optuna
    from optuna.trial import TrialState

    from pipeline.training.xgb import booster_params

    tuning = config.tuning
    assert tuning is not None
    eval_metric = str(booster_params(config, "cpu")["eval_metric"])
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    report_every = max(1, math.ceil(config.model.num_boost_round / MAX_REPORTS_PER_TRIAL))

    def objective(trial: optuna.Trial) -> float:
        ahead = [t for t in trial.study.get_trials(deepcopy=False, states=counted) if t.number < trial.number]
        if len(ahead) >= target:
            trial.set_user_attr(SURPLUS_ATTR, True)
            trial.study.stop()
            raise SurplusTrial(f"study {study_name} already has {target} trials finished or running")
        trial.set_user_attr(WORKER_ATTR, worker)
        params = suggest_params(trial, tuning.search_space)
        pruner = (
            XGBoostPruningCallback(trial, eval_metric, direction, report_every=report_every) if tuning.pruning else None
        )
        run = _trial_logger(config, study_name, trial.number, parent_run_id)
        try:
            run.log_params(params)
            score = score_on_validation(
                view,
                config,
                params,
                periods_per_year=periods_per_year,
                metric=tuning.metric,
                callbacks=[pruner] if pruner is not None else (),
            )
        except optuna.TrialPruned:
            step = pruner.last_step if pruner is not None else None
            run.set_tags({T.OPTUNA_STATE: "PRUNED"})
            if step is not None:
                run.log_metrics({"pruned_at_round": step})
            run.end("KILLED")
            raise
        except BaseException as exc:
            run.set_tags({T.OPTUNA_STATE: "FAIL", T.OPTUNA_ERROR: f"{exc.__class__.__name__}: {exc}"[:500]})
            run.end("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise
        trial.set_user_attr(VAL_SHARPE_ATTR, score.metrics["val_sharpe"])
        run.log_metrics({"objective": score.value, **score.metrics})
        run.set_tags({T.OPTUNA_STATE: "COMPLETE" if score.value == score.value else "FAIL"})
        run.end("FINISHED")
        return score.value

    return objective


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
            objective = _make_objective(
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
