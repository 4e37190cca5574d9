"""Search MLflow runs by tag: the newest finished run of an exact configuration (resumable sweeps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from pipeline.errors import TrackingError, first_line


def _filter_value(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise TrackingError(f"tag value {value!r} contains both quote characters; cannot search for it")


def find_finished_run(experiment_name: str, tags: Mapping[str, Any]) -> str | None:
    """Return the newest FINISHED run of ``experiment_name`` carrying all ``tags``, or None.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment.
    tags : Mapping[str, Any]
        Tag key to value; all must match exactly (values compared as strings).

    Returns
    -------
    str or None
        The run id, or None when the experiment or such a run does not exist.
    """
    client = mlflow.MlflowClient()
    try:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None or experiment.lifecycle_stage == "deleted":
            return None
        clauses = [f"tags.`{key}` = {_filter_value(str(value))}" for key, value in tags.items()]
        clauses.append("attributes.status = 'FINISHED'")
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=" AND ".join(clauses),
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
    except MlflowException as exc:
        raise TrackingError(f"experiment {experiment_name!r}: cannot search runs: {first_line(exc)}") from exc
    return runs[0].info.run_id if runs else None
