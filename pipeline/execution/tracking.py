"""Each trading day of a strategy is one MLflow run in experiment ``trading/<name>``, with metrics by step.

Every cycle adds one step (the bar's open time in epoch milliseconds) to the run of its bar's day: equity,
PnL since the start, gross and net exposure, orders sent and denied. The run of a day is found by its tags
(``quantgate.strategy``, ``quantgate.trading_day``) under a named lock in quantgate's database, so cycles of
the same day, concurrent ones included, share one run and never create a second. Paper results can then be
charted next to the backtest's in the MLflow UI.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pandas as pd

from pipeline.execution.model import OrderStatus
from pipeline.execution.session import CycleResult, TradingSession

STRATEGY_TAG = "quantgate.strategy"
DAY_TAG = "quantgate.trading_day"
#: (tracking URI, strategy, day) -> run id: a day's run is looked up in MLflow once per process.
_day_runs: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class DayMetrics:
    """What one cycle adds to its day's run."""

    step: int
    equity: float
    pnl: float
    gross_exposure: float
    net_exposure: float
    orders: int
    denied: int

    def as_dict(self) -> dict[str, float]:
        return {
            "equity": self.equity,
            "pnl": self.pnl,
            "gross_exposure": self.gross_exposure,
            "net_exposure": self.net_exposure,
            "orders": float(self.orders),
            "orders_denied": float(self.denied),
        }


def experiment_name(strategy: str) -> str:
    """The MLflow experiment of a strategy's trading days (replays log their parity report there too)."""
    return f"trading/{strategy}"


def cycle_metrics(
    session: TradingSession, result: CycleResult, bars: dict[str, pd.DataFrame], at: dt.datetime | None = None
) -> DayMetrics:
    """The account after the cycle, marked at each symbol's last closed bar (step: bar time in ms, or ``at``
    for a cycle that traded no bar)."""
    account = session.broker.account()
    prices = {s: float(frame["close"].iloc[-1]) for s, frame in bars.items() if not frame.empty}
    marked = {s: p.quantity * prices.get(s, p.avg_price) for s, p in account.positions.items()}
    equity = account.cash + sum(marked.values())
    scale = equity if equity > 0 else float("nan")
    denied = sum(1 for o in result.orders if o.status is OrderStatus.DENIED)
    return DayMetrics(
        step=int(pd.Timestamp(result.bar_ts or at).value // 1_000_000),
        equity=equity,
        pnl=equity - session.trading.capital,
        gross_exposure=sum(abs(v) for v in marked.values()) / scale,
        net_exposure=sum(marked.values()) / scale,
        orders=len(result.orders) - denied,
        denied=denied,
    )


def day_run(strategy: str, day: dt.date, db_url: str | None = None) -> str:
    """The run id of ``strategy``'s trading ``day``, created once (under a lock) and found by its tags after."""
    import mlflow

    from pipeline.store.locks import exclusive
    from pipeline.tracking.mlflow_setup import tracking_client

    key = (mlflow.get_tracking_uri(), strategy, day.isoformat())
    if key in _day_runs:
        return _day_runs[key]
    client = tracking_client()
    with exclusive(f"quantgate.trading-day-run:{strategy}", db_url):
        name = experiment_name(strategy)
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
        query = f"tags.`{STRATEGY_TAG}` = '{strategy}' and tags.`{DAY_TAG}` = '{day.isoformat()}'"
        runs = client.search_runs([experiment_id], filter_string=query, max_results=1)
        if runs:
            run_id = runs[0].info.run_id
        else:
            tags = {STRATEGY_TAG: strategy, DAY_TAG: day.isoformat(), "quantgate.kind": "trading-day"}
            run_id = client.create_run(experiment_id, tags=tags, run_name=f"{strategy} {day.isoformat()}").info.run_id
    _day_runs[key] = run_id
    return run_id


def log_cycle(
    session: TradingSession,
    result: CycleResult,
    bars: dict[str, pd.DataFrame],
    db_url: str | None = None,
    at: dt.datetime | None = None,
) -> str | None:
    """Add this cycle's metrics to the run of its bar's trading day; return the run id.

    A cycle that traded no bar (no Production version and nothing held, or ``on_no_model: hold``) is
    logged at ``at``, the cycle's time (None: not logged).
    """
    when = result.bar_ts or at
    if when is None:
        return None
    from mlflow.entities import Metric, RunTag

    from pipeline.tracking.mlflow_setup import tracking_client

    metrics = cycle_metrics(session, result, bars, when)
    run_id = day_run(session.strategy, when.date(), db_url)
    stamp = int(time.time() * 1000)
    client = tracking_client()
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, stamp, metrics.step) for k, v in metrics.as_dict().items()],
        tags=[RunTag("model_version", result.model_version), RunTag("broker", session.trading.broker)],
    )
    client.set_terminated(run_id, "FINISHED")  # readable as a finished run; later cycles of the day still log
    return run_id
