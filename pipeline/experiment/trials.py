"""Trials remembered across history: every earlier finished run on the same data family, read from MLflow.

**Data family.** Two runs belong to the same family when they share the data source, symbol, timeframe and
target kind (:func:`family_key`, tagged ``quantgate.data_family``) and their bar windows overlap (tags
``quantgate.family.first_bar`` / ``last_bar``). Each such run that FINISHED (MLflow status FINISHED and
``quantgate.status`` completed) counts as many trials as it tried itself (``quantgate.own_trials``: 1 for a
single run or a sweep item, the Optuna study's trial count for a tuned run). Its test Sharpe joins the
trial Sharpes from which the deflated Sharpe's variance is estimated (with a floor, in the DSR rule).

A sweep's own items are left out of each other's history (they count through the sweep's planned family
size instead), so an item's N and variance do not depend on the order the sweep's items finish.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.tracking import tags as T

if TYPE_CHECKING:
    from pipeline.config import ExperimentConfig
    from pipeline.experiment.gate import TrialContext

#: Most runs read back per family (MLflow's page cap).
MAX_HISTORY_RUNS = 10_000


def family_key(config: ExperimentConfig) -> str:
    """The data family of a config: ``source|symbol|timeframe|target kind``."""
    data = config.data
    return f"{data.source}|{data.symbol}|{data.timeframe}|{config.target.kind}"


def _overlaps(run_tags: dict[str, str], first_bar: pd.Timestamp, last_bar: pd.Timestamp) -> bool:
    try:
        start = pd.Timestamp(run_tags[T.FAMILY_FIRST_BAR])
        end = pd.Timestamp(run_tags[T.FAMILY_LAST_BAR])
    except (KeyError, ValueError):
        return True  # a family run without a recorded window counts (conservative)
    return start <= last_bar and first_bar <= end


def _identity(tags: dict[str, str]) -> tuple[str, str, str] | None:
    """What makes two runs the same trial: config, data and code; None when a run lacks any of them."""
    parts = (tags.get(T.CONFIG_HASH), tags.get(T.DATA_FINGERPRINT), tags.get(T.CODE_VERSION))
    return None if None in parts else parts  # type: ignore[return-value]


def history_trials(
    config: ExperimentConfig,
    first_bar: pd.Timestamp,
    last_bar: pd.Timestamp,
    *,
    exclude_run_id: str | None = None,
    exclude_sweep_family: str | None = None,
) -> TrialContext | None:
    """Earlier finished runs of ``config``'s data family whose windows overlap ``[first_bar, last_bar]``.

    Returns None when there are none. The run itself and, in a sweep, the sweep's own items are left out.
    An identical rerun (same config hash, data fingerprint and code version) is not a new trial: runs
    identical to ``exclude_run_id`` are left out, and identical earlier runs count once.
    """
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    from pipeline.experiment.gate import TrialContext

    client = MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    if not ids:
        return None
    key = family_key(config).replace("'", "")
    runs = client.search_runs(
        ids,
        filter_string=(
            f"tags.`{T.DATA_FAMILY}` = '{key}' and tags.`{T.STATUS}` = '{T.STATUS_COMPLETED}'"
            " and attributes.status = 'FINISHED'"
        ),
        max_results=MAX_HISTORY_RUNS,
        order_by=["attributes.start_time DESC"],
    )
    n = 0
    counted = 0
    sharpes: list[float] = []
    seen: set[tuple[str, str, str]] = set()
    if exclude_run_id is not None:
        own = _identity(client.get_run(exclude_run_id).data.tags)
        if own is not None:
            seen.add(own)
    for run in runs:
        tags = run.data.tags
        if run.info.run_id == exclude_run_id:
            continue
        identity = _identity(tags)
        if identity is not None:
            if identity in seen:
                continue
            seen.add(identity)
        if exclude_sweep_family is not None and tags.get(T.SWEEP_FAMILY) == exclude_sweep_family:
            continue
        if not _overlaps(tags, first_bar, last_bar):
            continue
        try:
            own = max(1, int(tags.get(T.OWN_TRIALS, "1")))
        except ValueError:
            own = 1
        n += own
        counted += 1
        sharpe = run.data.metrics.get("sharpe", math.nan)
        if math.isfinite(sharpe):
            sharpes.append(float(sharpe))
    if n == 0:
        return None
    source = f"history of data family {key}: {counted} earlier finished runs ({n} trials) read from MLflow"
    return TrialContext(n_trials=n, source=source, trial_sharpes=tuple(sorted(sharpes)))


def combine(first: TrialContext | None, second: TrialContext | None) -> TrialContext | None:
    """Trials of two independent sources (e.g. sweep siblings and an Optuna study) added together."""
    from pipeline.experiment.gate import TrialContext

    if first is None or second is None:
        return first or second
    return TrialContext(
        n_trials=first.n_trials + second.n_trials,
        source=f"{first.source}; plus {second.source}",
        trial_sharpes=first.trial_sharpes + second.trial_sharpes,
    )


def record_own_trials(run_id: str, experiment_name: str, own_trials: int) -> None:
    """Tag the run with the trials it tried itself, so later runs of its family count them."""
    from pipeline.tracking import RunLogger

    RunLogger(run_id, experiment_name).set_tags({T.OWN_TRIALS: str(max(1, int(own_trials)))})
