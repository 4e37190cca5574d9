"""Thin Prefect wrappers around the trading cycle's units of work (pipeline.execution)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from prefect import task

from pipeline.execution.cycle import CycleResult, TradingSession, resolve_model, run_cycle
from pipeline.execution.production import PinnedModel
from pipeline.execution.runner import load_bars, open_session, symbols_of
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
    model: PinnedModel, trading: TradingFile, first: dt.datetime, now: dt.datetime
) -> dict[str, pd.DataFrame]:
    """Ingest missing bars and read the trailing window the features need."""
    return load_bars(model, symbols_of(trading, model), first, now.date())


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
