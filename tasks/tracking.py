"""Record the experiment in MLflow (before the gate, so the gate can check what was really stored)."""

from typing import Any

from prefect import task

from pipeline.experiment.record import RunRecord, artifacts_present, log_experiment_run
from pipeline.experiment.run import ExperimentRun
from pipeline.tracking import configure_mlflow, reap_stale_runs
from tasks._common import IN_MEMORY, retry_unless_permanent


@task(name="log-run", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_unless_permanent, **IN_MEMORY)
def log_run(run: ExperimentRun, **evidence: Any) -> RunRecord:
    """Log config, data fingerprint, quality, features, metrics, plots and model into the open run."""
    return log_experiment_run(run, **evidence)


@task(name="check-artifacts", **IN_MEMORY)
def check_artifacts(record: RunRecord) -> tuple[bool, bool]:
    """Read back from MLflow whether the model and feature metadata were stored."""
    return artifacts_present(record)


@task(name="reap-stale-runs", **IN_MEMORY)
def reap_stale() -> int:
    """Mark RUNNING MLflow runs of dead processes KILLED; return how many."""
    configure_mlflow()
    return len(reap_stale_runs())
