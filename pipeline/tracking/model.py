"""The XGBoost model of a run, logged as an MLflow 3 logged model with signature and explicit requirements."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.tracking.mlflow_run import MlflowRunLogger

if TYPE_CHECKING:
    import pandas as pd
    import xgboost as xgb


@dataclass(frozen=True)
class LoggedModelRef:
    """Where a logged model lives.

    Attributes
    ----------
    model_uri : str
        ``models:/<model id>``: loadable with ``mlflow.xgboost.load_model`` and registrable.
    model_id : str
        MLflow 3's logged-model id (``m-...``).
    run_id : str
        The run that logged it.
    artifact_name : str
        The model's name within the run (``model``).
    """

    model_uri: str
    model_id: str
    run_id: str
    artifact_name: str


def default_pip_requirements() -> list[str]:
    """Return the requirements written next to a logged XGBoost model (installed versions).

    Returns
    -------
    list[str]
        ``name==version`` for mlflow, xgboost, numpy, pandas and scipy.
    """
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("mlflow", "xgboost", "numpy", "pandas", "scipy"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            requirements.append(package)
    return requirements


_scan_guard = threading.Lock()
_scan_skippers = 0  # blocks of without_installed_package_scan running now (threads of one process)


@contextmanager
def without_installed_package_scan() -> Iterator[None]:
    """Let MLflow check a logged model's requirements without scanning every installed distribution.

    ``log_model`` (and the serving-input validation inside it) calls MLflow's
    ``warn_dependency_requirement_mismatches``, which first builds a module -> distributions map of the
    whole environment (``importlib_metadata.packages_distributions()``: it reads every installed
    distribution's file list; 0.4-1.8 s per process here) even when the requirements are given. MLflow
    has no setting to skip that; the check only reads the map to find a module name when a required
    package has no metadata, which is never the case for :func:`default_pip_requirements`.

    So, for the duration of the block and only while MLflow has not built the map yet, its cache
    (``mlflow.utils.requirements_utils._MODULES_TO_PACKAGES``) holds an empty map: the mismatch check
    compares the same installed versions and warns exactly as before. Afterwards the cache is reset,
    so anything later in the process that infers requirements builds the full map as usual. This is
    the one place quantgate touches an MLflow internal; if a future MLflow drops the attribute, the
    block just runs MLflow's own scan. Thread-safe: the map is reset when the last block ends.
    """
    from mlflow.utils import requirements_utils

    global _scan_skippers
    with _scan_guard:
        if _scan_skippers == 0 and getattr(requirements_utils, "_MODULES_TO_PACKAGES", False) is not None:
            seeded = None  # MLflow built the map already (or renamed it): nothing to skip
        else:
            if _scan_skippers == 0:
                requirements_utils._MODULES_TO_PACKAGES = {}
            seeded = requirements_utils._MODULES_TO_PACKAGES
            _scan_skippers += 1
    try:
        yield
    finally:
        if seeded is not None:
            with _scan_guard:
                _scan_skippers -= 1
                if _scan_skippers == 0 and requirements_utils._MODULES_TO_PACKAGES is seeded:
                    requirements_utils._MODULES_TO_PACKAGES = None


def log_xgboost_model(
    logger: MlflowRunLogger,
    booster: xgb.Booster,
    input_example: pd.DataFrame,
    artifact_name: str = "model",
    pip_requirements: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> LoggedModelRef:
    """Log an XGBoost booster with a signature and an input example (MLflow 3 logged model).

    The signature is inferred from ``input_example`` (its first rows, index dropped) and the booster's
    predictions on it. Requirements are passed explicitly (mlflow, xgboost, numpy, pandas, scipy at
    their installed versions) to skip MLflow's slow requirement inference, and MLflow checks them
    against the environment without scanning every installed package (:func:`without_installed_package_scan`).

    Parameters
    ----------
    logger : MlflowRunLogger
        The run to log into.
    booster : xgboost.Booster
        The trained model.
    input_example : pandas.DataFrame
        Feature rows in the order the model expects.
    artifact_name : str
        The logged model's name in the run.
    pip_requirements : list[str], optional
        Overrides the default requirements.
    metadata : Mapping[str, Any], optional
        Stored in the MLmodel file (e.g. ``n_classes``, feature names).

    Returns
    -------
    LoggedModelRef
        ``model_uri`` (``models:/<model id>``) and ``model_id``.
    """
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    example = input_example.head(5).reset_index(drop=True)
    with logger._wrap(f"log model {artifact_name}"), without_installed_package_scan():
        predictions = booster.predict(xgb.DMatrix(example))
        signature = infer_signature(example, predictions)
        # Create the logged model in the run's experiment ourselves: without an active fluent run
        # MLflow would file it under the *current* experiment (Default, ./mlruns).
        run = logger.client.get_run(logger.run_id)
        logged = mlflow.initialize_logged_model(
            name=artifact_name,
            source_run_id=logger.run_id,
            params=dict(run.data.params),
            experiment_id=run.info.experiment_id,
        )
        info = mlflow.xgboost.log_model(
            booster,
            name=artifact_name,
            model_id=logged.model_id,
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements or default_pip_requirements(),
            metadata=dict(metadata) if metadata else None,
            run_id=logger.run_id,
        )
    return LoggedModelRef(
        model_uri=info.model_uri, model_id=info.model_id, run_id=logger.run_id, artifact_name=artifact_name
    )
