"""Log quantgate experiment runs to MLflow.

``configure_mlflow()`` points tracking and the registry at one store (entry points call it: flows, tasks,
the CLI; library code assumes it was called); ``start_run()`` returns a :class:`RunLogger` (the generic
:class:`MlflowRunLogger` of :mod:`.mlflow_run` plus quantgate's run record of :mod:`.run` and the XGBoost
model of :mod:`.model`); ``find_finished_run()`` (:mod:`.search`) lets sweeps resume;
``reap_stale_runs()`` marks RUNNING runs of dead processes KILLED; tag names live in :mod:`pipeline.tracking.tags`.
Names are loaded lazily so that importing :mod:`pipeline.tracking.fingerprint` or
``pipeline`` does not import MLflow (about 2 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.tracking.fingerprint import data_fingerprint
    from pipeline.tracking.mlflow_run import MlflowRunLogger, finite_metrics, metric_name
    from pipeline.tracking.mlflow_setup import (
        configure_mlflow,
        ensure_experiment,
        is_database_uri,
        printable_uri,
        resolve_tracking_uri,
        run_url_hint,
    )
    from pipeline.tracking.model import LoggedModelRef, default_pip_requirements
    from pipeline.tracking.plots import equity_curve_figure, feature_importance_figure
    from pipeline.tracking.run import RunLogger, git_state, start_run
    from pipeline.tracking.search import find_finished_run
    from pipeline.tracking.stale import ReapedRun, owner_tags, reap_stale_runs

_EXPORTS: dict[str, str] = {
    "data_fingerprint": "pipeline.tracking.fingerprint",
    "configure_mlflow": "pipeline.tracking.mlflow_setup",
    "ensure_experiment": "pipeline.tracking.mlflow_setup",
    "is_database_uri": "pipeline.tracking.mlflow_setup",
    "printable_uri": "pipeline.tracking.mlflow_setup",
    "resolve_tracking_uri": "pipeline.tracking.mlflow_setup",
    "run_url_hint": "pipeline.tracking.mlflow_setup",
    "equity_curve_figure": "pipeline.tracking.plots",
    "feature_importance_figure": "pipeline.tracking.plots",
    "MlflowRunLogger": "pipeline.tracking.mlflow_run",
    "finite_metrics": "pipeline.tracking.mlflow_run",
    "metric_name": "pipeline.tracking.mlflow_run",
    "LoggedModelRef": "pipeline.tracking.model",
    "default_pip_requirements": "pipeline.tracking.model",
    "RunLogger": "pipeline.tracking.run",
    "git_state": "pipeline.tracking.run",
    "find_finished_run": "pipeline.tracking.search",
    "start_run": "pipeline.tracking.run",
    "ReapedRun": "pipeline.tracking.stale",
    "owner_tags": "pipeline.tracking.stale",
    "reap_stale_runs": "pipeline.tracking.stale",
}

__all__ = [
    "LoggedModelRef",
    "MlflowRunLogger",
    "ReapedRun",
    "RunLogger",
    "configure_mlflow",
    "data_fingerprint",
    "default_pip_requirements",
    "ensure_experiment",
    "equity_curve_figure",
    "feature_importance_figure",
    "find_finished_run",
    "finite_metrics",
    "git_state",
    "is_database_uri",
    "metric_name",
    "owner_tags",
    "printable_uri",
    "reap_stale_runs",
    "resolve_tracking_uri",
    "run_url_hint",
    "start_run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
