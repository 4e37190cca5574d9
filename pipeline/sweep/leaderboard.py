"""Best runs across experiments, read back from MLflow, with their gate status."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from pipeline.tracking import tags as T

COLUMNS: tuple[str, ...] = (
    "experiment",
    "symbol",
    "timeframe",
    "variant",
    "gate",
    "sharpe",
    "total_return",
    "buy_hold_return",
    "excess_return",
    "max_drawdown",
    "n_trades",
    "dsr",
    "n_trials",
    "run_id",
)
ASCENDING_METRICS = frozenset({"max_drawdown"})


def _variant(tag: str) -> str:
    """``{"data.symbol": "AAPL", "target.holding_period": 5}`` -> ``symbol=AAPL holding_period=5``."""
    if not tag.startswith("{"):
        return tag
    try:
        choice = json.loads(tag)
    except ValueError:
        return tag
    return " ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in choice.items())


def _experiment_ids(client, names: Sequence[str] | None) -> dict[str, str]:
    from mlflow.entities import ViewType

    experiments = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    by_id = {e.experiment_id: e.name for e in experiments if e.name != "Default"}
    if names:
        wanted = set(names)
        by_id = {i: n for i, n in by_id.items() if n in wanted}
    return by_id


def leaderboard(
    experiments: Sequence[str] | None = None,
    *,
    sort: str = "sharpe",
    limit: int = 20,
    family: str | None = None,
) -> pd.DataFrame:
    """Completed experiment runs (not tuning trials), best first by ``sort``.

    ``family`` restricts to the runs of one sweep folder (tag ``quantgate.sweep_family``).
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    names = _experiment_ids(client, experiments)
    if not names:
        return pd.DataFrame(columns=list(COLUMNS))
    filters = ["attributes.status = 'FINISHED'", f"tags.`{T.STATUS}` = '{T.STATUS_COMPLETED}'"]
    if family is not None:
        filters.append(f"tags.`{T.SWEEP_FAMILY}` = '{family}'")
    runs = client.search_runs(list(names), filter_string=" and ".join(filters), max_results=5000)
    rows = []
    for run in runs:
        m, t = run.data.metrics, run.data.tags
        rows.append(
            {
                "experiment": names.get(run.info.experiment_id, run.info.experiment_id),
                "symbol": t.get(T.SYMBOL, ""),
                "timeframe": t.get(T.TIMEFRAME, ""),
                "variant": _variant(t.get(T.EXPANSION, "")),
                "gate": {"true": "passed", "false": "failed"}.get(t.get(T.GATE_PASSED, ""), "?"),
                "sharpe": m.get("sharpe", math.nan),
                "total_return": m.get("total_return", math.nan),
                "buy_hold_return": m.get("buy_hold_return", math.nan),
                "excess_return": m.get("excess_return", math.nan),
                "max_drawdown": m.get("max_drawdown", math.nan),
                "n_trades": m.get("n_trades", math.nan),
                "dsr": m.get(T.GATE_DSR, math.nan),
                "n_trials": t.get(T.GATE_N_TRIALS, ""),
                "run_id": run.info.run_id,
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if frame.empty:
        return frame
    if sort not in frame.columns:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(COLUMNS)}")
    frame = frame.sort_values(sort, ascending=sort in ASCENDING_METRICS, na_position="last", kind="stable")
    return frame.head(limit).reset_index(drop=True)
