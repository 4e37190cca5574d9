"""How many trials stand behind a result: siblings of the same sweep family, read back from MLflow."""

from __future__ import annotations

import math

from pipeline.experiment.gate import TrialContext
from pipeline.experiment.trials import combine
from pipeline.tracking import tags as T

FAMILY_TAG = T.SWEEP_FAMILY

__all__ = ["FAMILY_TAG", "combine", "family_sharpes", "sibling_trials"]


def family_sharpes(family: str, exclude_run_id: str | None = None) -> list[float]:
    """Test-segment Sharpe ratios (annualised) of the family's completed runs, from MLflow."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    if not ids:
        return []
    runs = client.search_runs(
        ids,
        filter_string=(
            f"tags.`{FAMILY_TAG}` = '{family}' and tags.`{T.STATUS}` = '{T.STATUS_COMPLETED}'"
            " and attributes.status = 'FINISHED'"
        ),
        max_results=10000,
    )
    values = [run.data.metrics.get("sharpe", math.nan) for run in runs if run.info.run_id != exclude_run_id]
    return [v for v in values if math.isfinite(v)]


def sibling_trials(
    family: str, family_size: int, run_id: str | None = None, own_sharpe: float | None = None
) -> TrialContext:
    """The sweep family as the trials behind one of its results.

    N is the number of configs planned in the family (all of them count, finished or not: each was a try).
    No sibling Sharpe ratios are read: they depend on which siblings happened to finish first, so the DSR
    rule estimates the trial-Sharpe variance from history and its floor instead, and every item's DSR is
    the same whatever the finish order. ``run_id`` and ``own_sharpe`` are accepted for compatibility.
    """
    del run_id, own_sharpe
    n = max(family_size, 1)
    return TrialContext(n_trials=n, source=f"sweep family {family}: {family_size} planned configs")
