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


def start_fork_server(workers: int) -> None:
    """Start the standard library's fork server with :data:`EXPERIMENT_MODULES` imported, when ``workers`` > 1.

    A sweep's worker pool (``flows.sweep.WarmProcessPoolTaskRunner``) forks its workers from it and starts it
    itself when needed; the CLI calls this earlier, right after its environment is final and before it imports
    Prefect, so that the fork server's imports run beside the CLI's own instead of after them.
    """
    if workers < 2:
        return
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(EXPERIMENT_MODULES))
    forkserver.ensure_running()
