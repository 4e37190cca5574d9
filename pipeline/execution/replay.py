"""Replay: the real trading cycle bar by bar over history (simulated clock, paper broker), then parity.

The replay trades a throw-away strategy ``<name>.replay.<token>`` with its own paper account, so it never
touches the live strategy's ledger. The parity report compares it with :func:`run_backtest` on the same
bars, model and costs: the decided positions must be equal on every bar, and under the ``backtest`` fill
model the per-bar returns of the paper account must match the backtest's; every differing bar is listed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.backtest import run_backtest
from pipeline.errors import ExecutionError
from pipeline.execution.cycle import resolve_model, run_cycle
from pipeline.execution.runner import load_bars, open_session, symbols_of
from pipeline.execution.trading_file import TradingFile
from pipeline.timeframes import bar_length

RETURN_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ParityReport:
    """Replay against backtest, bar by bar."""

    strategy: str
    model_version: str
    fill_model: str
    bars: int
    positions_match: bool
    max_return_diff: float
    orders: int
    differences: list[dict[str, Any]] = field(default_factory=list)
    paper_metrics: dict[str, float] = field(default_factory=dict)
    backtest_metrics: dict[str, float] = field(default_factory=dict)
    cycle_seconds: list[float] = field(default_factory=list)

    def timing(self) -> dict[str, float]:
        """Per-cycle latency (bar in memory -> orders recorded) p50/p99 and replay throughput, in seconds."""
        if not self.cycle_seconds:
            return {}
        secs = np.asarray(self.cycle_seconds)
        return {
            "cycle_p50_s": float(np.percentile(secs, 50)),
            "cycle_p99_s": float(np.percentile(secs, 99)),
            "bars_per_s": float(len(secs) / secs.sum()) if secs.sum() > 0 else 0.0,
        }

    @property
    def returns_match(self) -> bool:
        return self.max_return_diff <= RETURN_TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "parity": {
                "positions_match": self.positions_match,
                "returns_match": self.returns_match,
                "bars": self.bars,
                "max_return_diff": self.max_return_diff,
                "differences": self.differences,
            },
            "orders": self.orders,
            "model_version": self.model_version,
            "strategy": self.strategy,
            "fill_model": self.fill_model,
            "paper": self.paper_metrics,
            "backtest": self.backtest_metrics,
            "timing": self.timing(),
        }


def replay(trading: TradingFile, start: dt.date, end: dt.date, db_url: str | None = None) -> ParityReport:
    """Drive the real cycle over every closed bar in ``[start, end]`` and compare with the backtest.

    Raises
    ------
    ExecutionError
        If there is no Production version, the model has more than one symbol to trade, or no bars.
    """
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    model = resolve_model(trading)
    if model is None:
        raise ExecutionError(f"model {trading.model}: no Production version to replay")
    symbols = symbols_of(trading, model)
    if len(symbols) != 1:
        raise ExecutionError(f"{trading.name}: replay parity compares one symbol (got {', '.join(symbols)})")
    (symbol,) = symbols
    timeframe, costs = model.config.data.timeframe, model.config.costs
    anchor = dt.datetime.combine(start, dt.time(), dt.UTC)
    history = load_bars(model, symbols, anchor, end)[symbol]
    traded = history[(history.index >= pd.Timestamp(anchor)) & (history.index.date <= end)]
    if traded.empty:
        raise ExecutionError(f"{symbol} {timeframe}: no bars between {start} and {end}")
    strategy = f"{trading.name}.replay.{uuid.uuid4().hex[:8]}"
    session = open_session(
        trading,
        timeframe=timeframe,
        fee_bps=costs.fee_bps,
        slippage_bps=costs.slippage_bps,
        strategy=strategy,
        anchor=anchor,
        db_url=db_url,
        simulate=True,  # a replay never reaches a venue
    )
    length = bar_length(timeframe).to_pytimedelta()
    targets, pre_fill_equity, n_orders, versions, seconds = [], [], 0, set(), []
    for ts in traded.index:
        now = ts.to_pydatetime() + length  # the simulated clock: the bar has just closed
        window = {symbol: history[history.index <= ts]}
        began = time.perf_counter()
        model = resolve_model(trading) or model
        result = run_cycle(session, now, window, model, timeframe, model.asset_class)
        seconds.append(time.perf_counter() - began)
        targets.append(result.targets.get(symbol, 0.0))
        pre_fill_equity.append(result.equity_before)
        n_orders += sum(1 for o in result.orders if o.status.value != "DENIED")
        versions.add(result.model_version)
    proba = model.predict(history)
    reference = run_backtest(traded, proba.reindex(traded.index), model.config, model.periods_per_year)
    expected = reference.positions.to_numpy()[1:]
    decided = np.asarray(targets[:-1])
    equity = np.asarray(pre_fill_equity)
    paper_returns = np.zeros(len(traded))
    paper_returns[1:] = equity[1:] / equity[:-1] - 1.0
    diff = np.abs(paper_returns - reference.returns.to_numpy())
    differences = []
    for i, ts in enumerate(traded.index):
        position_differs = i >= 1 and decided[i - 1] != expected[i - 1]
        if position_differs or diff[i] > RETURN_TOLERANCE:
            differences.append(
                {
                    "bar": ts.isoformat(),
                    "paper_position": float(decided[i - 1]) if i else 0.0,
                    "backtest_position": float(reference.positions.iloc[i]),
                    "paper_return": float(paper_returns[i]),
                    "backtest_return": float(reference.returns.iloc[i]),
                }
            )
    from pipeline.backtest import compute_metrics

    paper_metrics = compute_metrics(
        paper_returns,
        reference.benchmark_returns.to_numpy(),
        reference.positions.to_numpy(),
        np.zeros(0),
        model.periods_per_year,
    )
    keep = ("total_return", "sharpe", "max_drawdown")
    return ParityReport(
        strategy=strategy,
        model_version=",".join(sorted(versions)),
        fill_model=trading.fill_model,
        bars=len(traded),
        positions_match=bool(np.array_equal(decided, expected)),
        max_return_diff=float(diff.max()) if diff.size else 0.0,
        orders=n_orders,
        differences=differences,
        paper_metrics={k: float(paper_metrics[k]) for k in keep},
        backtest_metrics={k: float(reference.metrics[k]) for k in keep},
        cycle_seconds=seconds,
    )


def log_report(trading: TradingFile, report: ParityReport) -> str:
    """Log the parity report to MLflow experiment ``trading/<name>``; return the run id."""
    import mlflow

    mlflow.set_experiment(f"trading/{trading.name}")
    with mlflow.start_run(run_name=f"replay {report.strategy}") as run:
        mlflow.log_params({"model_version": report.model_version, "fill_model": report.fill_model, "bars": report.bars})
        mlflow.log_metrics(
            {
                "positions_match": float(report.positions_match),
                "max_return_diff": report.max_return_diff,
                "orders": float(report.orders),
                **{f"paper_{k}": v for k, v in report.paper_metrics.items()},
                **{f"backtest_{k}": v for k, v in report.backtest_metrics.items()},
                **report.timing(),
            }
        )
        mlflow.log_dict(report.to_dict(), "parity/report.json")
        return run.info.run_id
