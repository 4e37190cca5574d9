"""Resolve a registered model's Production version and pin it (with its features and config) for a cycle.

MLflow has no hot reload: each cycle reads the alias's version, and a version not seen before is loaded
from the immutable ``models:/NAME/VERSION``, its feature pipeline rebuilt with
:meth:`FeaturePipeline.from_metadata` (refusing changed feature code) and its experiment config read back,
so a new version is swapped in only between bars.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import ExperimentConfig
from pipeline.errors import ExecutionError, FeatureError, first_line
from pipeline.features import FeatureMetadata, FeaturePipeline
from pipeline.timeframes import AssetClass, bars_per_year

#: Extra bars before the feature warm-up, so recursive indicators (EWM) converge to the full-history value.
EWM_MARGIN_BARS = 500

_pinned: dict[tuple[str, str, str], PinnedModel] = {}


@dataclass(frozen=True)
class PinnedModel:
    """One registered model version with everything a cycle needs to trade it."""

    name: str
    version: str
    run_id: str
    booster: Any
    config: ExperimentConfig
    features: FeaturePipeline
    asset_class: AssetClass

    @property
    def periods_per_year(self) -> float:
        return bars_per_year(self.config.data.timeframe, self.asset_class)

    @property
    def history_bars(self) -> int:
        """Bars of history a feature row needs: the warm-up plus the EWM margin."""
        return self.features.warmup + EWM_MARGIN_BARS

    def predict(self, bars: pd.DataFrame, last: bool = False) -> pd.DataFrame:
        """Class probabilities for every bar of ``bars`` that has features (index = bar time); with ``last``,
        for the last such bar only (a cycle needs one row: its features come from
        :meth:`FeaturePipeline.transform_last`, and the booster scores one row, not hundreds)."""
        from pipeline.training.xgb import predict_proba

        matrix = self.features.transform_last(bars) if last else self.features.transform(bars)
        if matrix.empty:
            return pd.DataFrame(columns=range(self.config.target.n_classes), dtype="float64")
        proba = predict_proba(self.booster, matrix, self.config.target.n_classes)
        return pd.DataFrame(proba, index=matrix.index)


def production_version(model_name: str) -> tuple[str, str] | None:
    """``(version, run_id)`` the alias ``production`` points at now, or None when no version has it."""
    from mlflow.exceptions import MlflowException

    from pipeline.registry.queries import PRODUCTION_ALIAS
    from pipeline.tracking.mlflow_setup import tracking_client

    try:
        version = tracking_client().get_model_version_by_alias(model_name, PRODUCTION_ALIAS)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise ExecutionError(f"model {model_name}: cannot resolve alias production: {first_line(exc)}") from exc
    return str(version.version), str(version.run_id)


def pin_model(model_name: str, version: str, run_id: str) -> PinnedModel:
    """Load version ``version`` of ``model_name`` and validate it before it may trade.

    Raises
    ------
    ExecutionError
        If the model, its feature metadata or its config cannot be read, the feature code changed since
        training, or a smoke prediction fails.
    """
    from pipeline.experiment.data import asset_class_of
    from pipeline.tracking.mlflow_setup import tracking_client

    key = (model_name, version, run_id)
    if key in _pinned:
        return _pinned[key]
    label = f"model {model_name} version {version}"
    try:
        import mlflow.xgboost

        booster = mlflow.xgboost.load_model(f"models:/{model_name}/{version}")
        # A cycle scores one row: one thread does it in half the CPU time of a team of spinning OpenMP
        # threads (same probabilities: rows are scored independently).
        booster.set_param({"nthread": 1})
        with tempfile.TemporaryDirectory() as tmp:
            client = tracking_client()
            meta_path = client.download_artifacts(run_id, "features/metadata.json", tmp)
            config_path = client.download_artifacts(run_id, "config/resolved.json", tmp)
            meta = FeatureMetadata.from_dict(json.loads(Path(meta_path).read_text()))
            config = ExperimentConfig.model_validate_json(Path(config_path).read_text())
    except Exception as exc:  # MLflow raises several types for a missing artifact or model
        raise ExecutionError(f"{label}: cannot load the model, its features or its config: {first_line(exc)}") from exc
    try:
        features = FeaturePipeline.from_metadata(meta, strict=True)
    except FeatureError as exc:
        raise ExecutionError(
            f"{label}: refusing to trade: {first_line(exc).split('; pass strict')[0]}; "
            "retrain and promote a new version with the installed feature code"
        ) from exc
    pinned = PinnedModel(model_name, version, run_id, booster, config, features, asset_class_of(config.data))
    probe = np.zeros((1, len(meta.feature_names)), dtype="float64")
    try:
        from pipeline.training.xgb import predict_proba

        smoke = predict_proba(booster, pd.DataFrame(probe, columns=list(meta.feature_names)), config.target.n_classes)
    except Exception as exc:
        raise ExecutionError(f"{label}: smoke prediction failed: {first_line(exc)}") from exc
    if smoke.shape != (1, config.target.n_classes) or not np.isfinite(smoke).all():
        raise ExecutionError(f"{label}: smoke prediction returned {smoke.shape} non-finite or misshaped values")
    _pinned[key] = pinned
    return pinned
