"""XGBoost training with early stopping on the validation segment and reproducible seeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from pipeline.config import ExperimentConfig
from pipeline.errors import TrainingError, first_line
from pipeline.training.device import resolve_device

DEFAULT_PARAMS: dict[str, Any] = {
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
    "lambda": 1.0,
}


class _Segment(Protocol):
    X: pd.DataFrame
    y: pd.Series


class _Dataset(Protocol):
    train: _Segment
    validation: _Segment


@dataclass(frozen=True)
class TrainedModel:
    """A trained booster and what is needed to use and describe it (immutable once trained)."""

    booster: xgb.Booster
    device: str
    device_reason: str
    n_classes: int
    best_iteration: int
    feature_names: list[str]
    params: dict[str, Any]
    val_metrics: dict[str, float] = field(default_factory=dict)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (n, k) using the early-stopped number of trees."""
        return predict_proba(self.booster, X, self.n_classes)

    def feature_importance(self, importance_type: str = "gain") -> dict[str, float]:
        """Importance per feature (features never used in a split get 0)."""
        scores = self.booster.get_score(importance_type=importance_type)
        return {name: float(scores.get(name, 0.0)) for name in self.feature_names}


def booster_params(config: ExperimentConfig, device: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Full XGBoost parameter set: defaults, then the YAML's model.params, then ``overrides`` (tuning)."""
    n_classes = config.target.n_classes
    params: dict[str, Any] = dict(DEFAULT_PARAMS)
    if n_classes == 2:
        params.update(objective="binary:logistic", eval_metric="logloss")
    else:
        params.update(objective="multi:softprob", eval_metric="mlogloss", num_class=n_classes)
    params.update(config.model.params)
    params.update(overrides or {})
    params.update(seed=config.model.seed, device=device)
    return params


def _check_labels(y: pd.Series, n_classes: int, segment: str) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    if np.isnan(values).any():
        raise TrainingError(f"{segment} labels contain NaN")
    if values.min() < 0 or values.max() >= n_classes:
        raise TrainingError(f"{segment} labels outside 0..{n_classes - 1}")
    return values.astype(np.int64)


def train_model(
    dataset: _Dataset,
    config: ExperimentConfig,
    *,
    overrides: dict[str, Any] | None = None,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> TrainedModel:
    """Train on ``dataset.train``, early-stop on ``dataset.validation``; the test segment is not touched."""
    n_classes = config.target.n_classes
    choice = resolve_device(config.model.device)
    params = booster_params(config, choice.device, overrides)
    train, valid = dataset.train, dataset.validation
    feature_names = [str(c) for c in train.X.columns]
    if list(valid.X.columns) != list(train.X.columns):
        raise TrainingError("validation features differ from training features")
    dtrain = xgb.DMatrix(
        train.X.to_numpy(np.float32), label=_check_labels(train.y, n_classes, "train"), feature_names=feature_names
    )
    dvalid = xgb.DMatrix(
        valid.X.to_numpy(np.float32), label=_check_labels(valid.y, n_classes, "validation"), feature_names=feature_names
    )
    history: dict[str, dict[str, list[float]]] = {}
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=config.model.num_boost_round,
            evals=[(dtrain, "train"), (dvalid, "validation")],
            early_stopping_rounds=config.model.early_stopping_rounds,
            evals_result=history,
            verbose_eval=False,
            callbacks=list(callbacks),
        )
    except xgb.core.XGBoostError as exc:
        raise TrainingError(f"xgboost failed: {first_line(exc)}") from exc
    best = int(getattr(booster, "best_iteration", booster.num_boosted_rounds() - 1))
    metric = params["eval_metric"]
    val_curve = history.get("validation", {}).get(metric, [])
    model = TrainedModel(
        booster=booster,
        device=choice.device,
        device_reason=choice.reason,
        n_classes=n_classes,
        best_iteration=best,
        feature_names=feature_names,
        params=params,
    )
    proba = model.predict_proba(valid.X)
    y_valid = np.asarray(valid.y, dtype=np.int64)
    val_metrics = {
        f"val_{metric}": float(val_curve[best]) if val_curve else float("nan"),
        "val_accuracy": float((proba.argmax(axis=1) == y_valid).mean()),
        "best_iteration": float(best),
    }
    return dataclasses.replace(model, val_metrics=val_metrics)


_ONE_THREAD_ROWS = 10_000


def predict_proba(booster: xgb.Booster, X: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Class probabilities, shape (n, n_classes), using trees up to the best iteration."""
    best = getattr(booster, "best_iteration", None)
    iteration_range = (0, int(best) + 1) if best is not None else (0, 0)
    # A few rows (a trading cycle scores one) are copied on one thread: starting XGBoost's thread team costs
    # ~13 ms of CPU, 60x the copy itself. The matrix is the same either way.
    nthread = 1 if len(X) <= _ONE_THREAD_ROWS else None
    dmatrix = xgb.DMatrix(X.to_numpy(np.float32), feature_names=[str(c) for c in X.columns], nthread=nthread)
    raw = booster.predict(dmatrix, iteration_range=iteration_range)
    if n_classes == 2:
        raw = raw.reshape(-1)
        return np.column_stack([1.0 - raw, raw])
    return raw.reshape(-1, n_classes)
