"""Record the experiment in MLflow (before the gate, so the gate can check what was really stored)."""

from typing import Any

from prefect import task

from pipeline.experiment.record import RunRecord, artifacts_present, finish_run, log_experiment_run
from tasks._common import IN_MEMORY, retry_unless_permanent


@task(name="log-run", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_unless_permanent, **IN_MEMORY)
def log_run(**evidence: Any) -> RunRecord:
    """Log config, data fingerprint, quality, features, metrics, plots and model; the run stays open."""
    return log_experiment_run(**evidence)


@task(name="check-artifacts", **IN_MEMORY)
def check_artifacts(record: RunRecord) -> tuple[bool, bool]:
    """Read back from MLflow whether the model and feature metadata were stored."""
    return artifacts_present(record)


@task(name="finish-run", **IN_MEMORY)
def finish(record: RunRecord, status: str = "FINISHED", tags: dict[str, Any] | None = None) -> None:
    """End the MLflow run."""
    finish_run(record, status, tags)
