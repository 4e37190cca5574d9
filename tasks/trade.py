"""Thin Prefect wrappers around the trading cycle's units of work (pipeline.execution)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from pipeline.errors import ExecutionError, first_line
from pipeline.execution.cycle import resolve_model, run_cycle
from pipeline.execution.production import PinnedModel
from pipeline.execution.runner import load_bars, no_model_cycle, open_session, symbols_of
from pipeline.execution.session import CycleResult, TradingSession
from pipeline.execution.trading_file import TradingFile, load_trading_file
from tasks._common import IN_MEMORY, retry_unless_permanent


@task(name="load-trading-file", **IN_MEMORY)
def load_trading(path: str) -> TradingFile:
    """Read and validate the trading file (live refused unless allowed)."""
    return load_trading_file(path)


@task(name="resolve-production", **IN_MEMORY)
def resolve_production(trading: TradingFile) -> PinnedModel | None:
    """Pin the Production version for this cycle (validated: feature code hash, smoke prediction)."""
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    return resolve_model(trading)


@task(
    name="update-bars", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=retry_unless_permanent, **IN_MEMORY
)
def update_bars(
    model: PinnedModel, trading: TradingFile, first: dt.datetime, now: dt.datetime, anchor: dt.datetime | None = None
) -> dict[str, pd.DataFrame]:
    """Ingest missing bars and read the trailing window the features and the rule need."""
    return load_bars(model, symbols_of(trading, model), first, now.date(), anchor=anchor)


@task(name="open-session", **IN_MEMORY)
def session_for(trading: TradingFile, model: PinnedModel) -> TradingSession:
    """Ledger, paper account and risk rules of the strategy."""
    costs = model.config.costs
    return open_session(
        trading, timeframe=model.config.data.timeframe, fee_bps=costs.fee_bps, slippage_bps=costs.slippage_bps
    )


@task(name="trade-bar", **IN_MEMORY)  # no retries: the ledger makes a rerun safe, but a human should look
def trade_bar(
    session: TradingSession, now: dt.datetime, bars: dict[str, pd.DataFrame], model: PinnedModel
) -> CycleResult:
    """Reconcile (fail closed), decide with the shared rule, check risk, write the ledger, submit, record."""
    return run_cycle(session, now, bars, model, model.config.data.timeframe, model.asset_class)


@task(name="trade-without-model", **IN_MEMORY)  # no retries, as trade-bar
def trade_without_model(
    trading: TradingFile, now: dt.datetime
) -> tuple[TradingSession, dict[str, pd.DataFrame], CycleResult]:
    """No Production version: flatten what the account holds, or hold, per the file's ``on_no_model``."""
    return no_model_cycle(trading, now)


@task(name="trading-state", **IN_MEMORY)
def trading_state(trading: TradingFile) -> tuple[str, str]:
    """The strategy's persisted state and its reason (``ACTIVE``, ``REDUCING`` or ``HALTED``)."""
    from pipeline.execution.ledger import Ledger
    from pipeline.store import ensure_schema

    state, reason, _ = Ledger(ensure_schema()).state(trading.name)
    return state.value, reason or ""


@task(name="publish-cycle", **IN_MEMORY)
def publish_cycle(session: TradingSession, result: CycleResult) -> None:
    """Two table artifacts per cycle: the bar's orders and the broker's positions after it."""
    slug = session.strategy.replace("_", "-").replace(".", "-").lower()
    bar = result.bar_ts.isoformat() if result.bar_ts else "no bar"
    orders = [
        {
            "bar": o.bar_ts.isoformat(),
            "symbol": o.symbol,
            "side": o.side.value,
            "quantity": o.quantity,
            "status": o.status.value,
            "reason": o.reason or "",
            "avg_price": o.avg_price,
            "model_version": o.model_version,
            "client_order_id": o.client_order_id,
        }
        for o in result.orders
    ]
    create_table_artifact(
        orders or [{"bar": bar, "symbol": "", "status": result.skipped or "no order"}],
        key=f"{slug}-orders",
        description=f"{session.strategy}: orders of bar {bar} (model v{result.model_version})",
    )
    account = session.broker.account()
    positions = [
        {"symbol": s, "quantity": p.quantity, "avg_price": p.avg_price}
        for s, p in sorted(account.positions.items())
        if p.quantity != 0
    ]
    create_table_artifact(
        [*positions, {"symbol": "CASH", "quantity": account.cash, "avg_price": 1.0}],
        key=f"{slug}-positions",
        description=f"{session.strategy}: positions at the broker after bar {bar}",
    )


@task(name="track-trading-day", retries=1, retry_delay_seconds=5, **IN_MEMORY)
def track_cycle(
    session: TradingSession, result: CycleResult, bars: dict[str, pd.DataFrame], now: dt.datetime | None = None
) -> str | None:
    """Add the cycle's PnL, exposure and orders (step = bar time in ms; ``now`` when no bar was traded) to
    its trading day's MLflow run."""
    from pipeline.execution.tracking import log_cycle

    return log_cycle(session, result, bars, at=now)


def send_notification(block: str, subject: str, body: str) -> None:
    """Send ``body`` through the saved Prefect notification block ``block`` ('type-slug/name').

    Raises
    ------
    ExecutionError
        If the block cannot be loaded, is not a notification block, or the message is not delivered.
    """
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.core import Block

    try:
        notifier = Block.load(block)
    except Exception as exc:  # Prefect raises ValueError, ObjectNotFound or a validation error
        raise ExecutionError(f"notify.block {block}: cannot load it: {first_line(exc)}") from exc
    if not isinstance(notifier, NotificationBlock):
        raise ExecutionError(f"notify.block {block}: a {type(notifier).__name__} is not a notification block")
    try:
        with notifier.raise_on_failure():
            notifier.notify(body[:2000], subject=subject)
    except Exception as exc:  # httpx and each block's client raise their own types
        raise ExecutionError(f"notify.block {block}: message not delivered: {first_line(exc)}") from exc


@task(name="notify", retries=2, retry_delay_seconds=[2, 10], **IN_MEMORY)
def notify(trading: TradingFile, subject: str, body: str) -> bool:
    """Announce a halt or a failed cycle through the trading file's block; False when none is configured."""
    if trading.notify is None:
        get_run_logger().warning("%s: %s (no notify.block in the trading file)", subject, body)
        return False
    send_notification(trading.notify.block, subject, body)
    return True
