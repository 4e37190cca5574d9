"""The tuning objective: score one set of XGBoost parameters on the validation segment, and on nothing else."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.backtest import run_backtest
from pipeline.errors import TuningError
from pipeline.tracking import tags as T
from pipeline.training import train_model
from pipeline.tuning.pruning import XGBoostPruningCallback
from pipeline.tuning.space import suggest_params

if TYPE_CHECKING:
    import optuna
    import xgboost as xgb

    from pipeline.config import ExperimentConfig
    from pipeline.split import Dataset, Segment
    from pipeline.tracking import RunLogger
    from pipeline.training import TrainedModel


@dataclass(frozen=True)
class TuningView:
    """The part of a :class:`~pipeline.split.Dataset` tuning may see: train and validation, never test.

    Build it with :meth:`from_dataset`; it has no ``test`` attribute, so nothing in tuning can reach
    the test segment by accident.
    """

    train: Segment
    validation: Segment

    @classmethod
    def from_dataset(cls, dataset: Dataset | TuningView) -> TuningView:
        """Return the train and validation segments of ``dataset`` (its test segment is not read).

        Parameters
        ----------
        dataset : Dataset or TuningView
            A split dataset.

        Returns
        -------
        TuningView
            A view without the test segment.
        """
        return cls(train=dataset.train, validation=dataset.validation)


@dataclass(frozen=True)
class ValidationScore:
    """How one parameter set scored on the validation segment.

    Attributes
    ----------
    value : float
        The objective (``tuning.metric``), NaN when undefined (e.g. AUC with a single class).
    metrics : dict[str, float]
        ``val_sharpe``, ``val_total_return``, ``val_logloss``, ``val_accuracy``, ``val_auc`` (when
        defined) and ``best_iteration``.
    model : TrainedModel
        The early-stopped model.
    """

    value: float
    metrics: dict[str, float] = field(default_factory=dict)
    model: TrainedModel | None = None


def _classification_metrics(y: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    labels = list(range(n_classes))
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out = {
        "val_logloss": float(log_loss(y, clipped, labels=labels)),
        "val_accuracy": float((proba.argmax(axis=1) == y).mean()),
    }
    try:
        if n_classes == 2:
            out["val_auc"] = float(roc_auc_score(y, proba[:, 1]))
        else:
            out["val_auc"] = float(roc_auc_score(y, clipped, multi_class="ovr", labels=labels))
    except ValueError:  # a class missing from the validation labels: AUC is undefined
        out["val_auc"] = float("nan")
    return out


def score_on_validation(
    dataset: Dataset | TuningView,
    config: ExperimentConfig,
    params: dict[str, Any],
    *,
    periods_per_year: float,
    metric: str | None = None,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> ValidationScore:
    """Train with ``params`` (early-stopping on validation) and score the model on validation only.

    ``sharpe`` and ``total_return`` come from a backtest over the validation segment's bars, predicting
    every validation feature row (the unlabelled tail too), with the experiment's strategy, sizing and
    costs; ``logloss``, ``auc`` and ``accuracy`` from the predictions on the labelled validation rows.

    Parameters
    ----------
    dataset : Dataset or TuningView
        Only ``train`` and ``validation`` are read.
    config : ExperimentConfig
        The experiment (model, target, strategy, sizing, costs; ``tuning.metric`` by default).
    params : dict[str, Any]
        XGBoost parameters merged over the YAML's ``model.params``.
    periods_per_year : float
        Bars per year, to annualise the validation Sharpe ratio.
    metric : str, optional
        Objective metric; defaults to ``config.tuning.metric`` (``sharpe`` without a tuning block).
    callbacks : Sequence[xgboost.callback.TrainingCallback]
        Extra training callbacks (the pruning callback).

    Returns
    -------
    ValidationScore
        The objective value, every validation metric and the model.

    Raises
    ------
    TuningError
        If ``metric`` is unknown.
    """
    view = TuningView.from_dataset(dataset)
    metric = metric or (config.tuning.metric if config.tuning is not None else "sharpe")
    model = train_model(view, config, overrides=params, callbacks=callbacks)
    valid = view.validation
    y = np.asarray(valid.y, dtype=np.int64)
    metrics = _classification_metrics(y, model.predict_proba(valid.X), model.n_classes)
    features = valid.features
    proba = pd.DataFrame(model.predict_proba(features), index=features.index)
    backtest = run_backtest(valid.bars, proba, config, periods_per_year)
    metrics["val_sharpe"] = backtest.metrics.sharpe
    metrics["val_total_return"] = backtest.metrics.total_return
    metrics["best_iteration"] = float(model.best_iteration)
    key = f"val_{metric}"
    if key not in metrics:
        raise TuningError(f"tuning.metric: unknown metric {metric!r}")
    value = metrics[key]
    return ValidationScore(value=value if math.isfinite(value) else float("nan"), metrics=metrics, model=model)


# -- the Optuna objective: one trial = one nested MLflow run scored on validation ---------------------

#: Trial user attributes written by :func:`pipeline.tuning.study.tune`.
VAL_SHARPE_ATTR = "val_sharpe"
SURPLUS_ATTR = "quantgate.surplus"
WORKER_ATTR = "quantgate.worker"

#: Upper bound on pruning reports (database writes) per trial; the callback reports every k-th round.
MAX_REPORTS_PER_TRIAL = 50

#: MLflow tags on trial runs.
ROLE_TAG = T.ROLE
TRIAL_ROLE = "tuning-trial"


class SurplusTrial(Exception):
    """Raised inside the objective when a trial would take the study past its target."""


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


def make_objective(
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
