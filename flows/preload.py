"""Modules an experiment needs, imported once by a process that then forks the processes that run experiments.

Both the CLI's warm runner (``quantgate/cli/warm.py``) and a sweep's worker pool (``flows/sweep.py``) import
these before forking, so a forked process starts with them loaded instead of paying about 4-6 CPU-seconds of
imports (Prefect, MLflow, XGBoost, the gate's statistics, matplotlib) itself.
"""

EXPERIMENT_MODULES = (
    "flows.experiment",
    "pipeline.quality.cache",
    "pipeline.tracking.plots",
    "matplotlib.backends.backend_agg",
    "mlflow.xgboost",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "git",
)
