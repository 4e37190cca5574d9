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


METRIC_COLUMNS: dict[str, str] = {
    "sharpe": T.METRIC_SHARPE,
    "total_return": T.METRIC_TOTAL_RETURN,
    "buy_hold_return": "buy_hold_return",
    "excess_return": "excess_return",
    "max_drawdown": T.METRIC_MAX_DRAWDOWN,
    "n_trades": T.METRIC_N_TRADES,
    "dsr": T.GATE_DSR,
}
PAGE_SIZE = 200  # runs per search_runs page
MAX_PAGES = 25  # at most PAGE_SIZE * MAX_PAGES runs are read per group (trading / not trading)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _row(run, names: dict[str, str]) -> dict[str, object]:
    m, t = run.data.metrics, run.data.tags
    return {
        "experiment": names.get(run.info.experiment_id, run.info.experiment_id),
        "symbol": t.get(T.SYMBOL, ""),
        "timeframe": t.get(T.TIMEFRAME, ""),
        "variant": _variant(t.get(T.EXPANSION, "")),
        "gate": {"true": "passed", "false": "failed"}.get(t.get(T.GATE_PASSED, ""), "?"),
        **{column: m.get(metric, math.nan) for column, metric in METRIC_COLUMNS.items()},
        "n_trials": t.get(T.GATE_N_TRIALS, ""),
        "run_id": run.info.run_id,
    }


def leaderboard(
    experiments: Sequence[str] | None = None,
    *,
    sort: str = "sharpe",
    limit: int = 20,
    family: str | None = None,
) -> pd.DataFrame:
    """Completed experiment runs (not tuning trials), best first by ``sort``: one row per config and data.

    Each (config hash, data fingerprint) pair gives one row, its latest completed run. Runs that trade come
    before runs with no trade, whatever ``sort`` says. MLflow orders the runs (``search_runs`` with
    ``order_by``), read page by page until ``limit`` rows are found (at most ``PAGE_SIZE * MAX_PAGES`` runs
    per group). ``family`` restricts to the runs of one sweep folder (tag ``quantgate.sweep_family``).
    """
    from mlflow import MlflowClient

    if sort not in COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(COLUMNS)}")
    client = MlflowClient()
    names = _experiment_ids(client, experiments)
    if not names:
        return pd.DataFrame(columns=list(COLUMNS))
    filters = ["attributes.status = 'FINISHED'", f"tags.`{T.STATUS}` = '{T.STATUS_COMPLETED}'"]
    if family is not None:
        filters.append(f"tags.`{T.SWEEP_FAMILY}` = '{_quote(family)}'")
    direction = "ASC" if sort in ASCENDING_METRICS else "DESC"
    order = [f"metrics.`{METRIC_COLUMNS[sort]}` {direction}"] if sort in METRIC_COLUMNS else []
    order.append("attributes.start_time DESC")
    ids = list(names)
    want = limit if sort in METRIC_COLUMNS else PAGE_SIZE * MAX_PAGES  # other sorts need every row first

    def latest_of(run) -> str | None:
        """The run id of the latest completed run with ``run``'s config hash and data fingerprint."""
        t = run.data.tags
        if T.CONFIG_HASH not in t or T.DATA_FINGERPRINT not in t:
            return run.info.run_id
        same = [
            *filters,
            f"tags.`{T.CONFIG_HASH}` = '{_quote(t[T.CONFIG_HASH])}'",
            f"tags.`{T.DATA_FINGERPRINT}` = '{_quote(t[T.DATA_FINGERPRINT])}'",
        ]
        found = client.search_runs(
            ids, filter_string=" and ".join(same), max_results=1, order_by=["attributes.start_time DESC"]
        )
        return found[0].info.run_id if found else None

    rows: list[dict[str, object]] = []
    decided: dict[tuple[str, str], str | None] = {}  # key -> the run id to show (the latest)
    for trades in (f"metrics.`{T.METRIC_N_TRADES}` > 0", f"metrics.`{T.METRIC_N_TRADES}` < 1"):
        token = None
        for _ in range(MAX_PAGES):
            page = client.search_runs(
                ids,
                filter_string=" and ".join([*filters, trades]),
                max_results=PAGE_SIZE,
                order_by=order,
                page_token=token,
            )
            for run in page:
                t = run.data.tags
                key = (t.get(T.CONFIG_HASH, run.info.run_id), t.get(T.DATA_FINGERPRINT, ""))
                if key not in decided:
                    decided[key] = latest_of(run)
                if decided[key] == run.info.run_id:
                    rows.append(_row(run, names))
                    if len(rows) >= want:
                        break
            token = page.token
            if len(rows) >= want or not token:
                break
        if len(rows) >= want:
            break
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if sort not in METRIC_COLUMNS and not frame.empty:
        traded = frame["n_trades"].fillna(0) > 0
        parts = [frame[traded], frame[~traded]]
        frame = pd.concat([p.sort_values(sort, kind="stable") for p in parts if not p.empty])
    return frame.head(limit).reset_index(drop=True)
