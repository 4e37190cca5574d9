"""How many trials stand behind a result: siblings of the same sweep family, read back from MLflow."""

from __future__ import annotations

import math

from pipeline.experiment.gate import TrialContext
from pipeline.tracking import tags as T

FAMILY_TAG = T.SWEEP_FAMILY


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

    N is the number of configs in the family (all of them count, finished or not: each was a try); the
    Sharpe variance comes from the siblings finished so far plus this run's own Sharpe.
    """
    sharpes = family_sharpes(family, exclude_run_id=run_id)
    if own_sharpe is not None and math.isfinite(own_sharpe):
        sharpes.append(float(own_sharpe))
    n = max(family_size, len(sharpes), 1)
    return TrialContext(
        n_trials=n,
        source=f"sweep family {family}: {family_size} configs, {len(sharpes)} Sharpe ratios read from MLflow",
        trial_sharpes=tuple(sharpes),
    )


def combine(first: TrialContext | None, second: TrialContext | None) -> TrialContext | None:
    """Trials of two independent sources (e.g. sweep siblings and an Optuna study) added together."""
    if first is None or second is None:
        return first or second
    return TrialContext(
        n_trials=first.n_trials + second.n_trials,
        source=f"{first.source}; plus {second.source}",
        trial_sharpes=first.trial_sharpes + second.trial_sharpes,
    )
