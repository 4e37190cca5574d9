"""The XGBoost model of a run, logged as an MLflow 3 logged model with signature and explicit requirements."""

from __future__ import annotations

from collections.abc import Mapping
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
    their installed versions) to skip MLflow's slow requirement inference.

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
    with logger._wrap(f"log model {artifact_name}"):
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
