"""One trading cycle of one trading file, for the last closed bar."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from prefect import flow

from pipeline.execution.cycle import CycleResult
from pipeline.execution.runner import trade_once
from pipeline.timeframes import bar_length
from tasks.trade import load_trading, resolve_production, session_for, trade_bar, update_bars


@flow(name="trade", flow_run_name="{trading_path}", log_prints=True, validate_parameters=False)
def trade_flow(trading_path: str, as_of: str | None = None) -> CycleResult:
    """Trade the last bar closed at ``as_of`` (ISO UTC; default now) with the Production model."""
    now = dt.datetime.fromisoformat(as_of).astimezone(dt.UTC) if as_of else dt.datetime.now(dt.UTC)
    trading = load_trading(trading_path)
    model = resolve_production(trading)
    if model is None:  # on_no_model: flatten or hold, on the bars the account holds
        return trade_once(trading, now)
    session = session_for(trading, model)
    first = min(pd.Timestamp(session.anchor), pd.Timestamp(now) - 10 * bar_length(model.config.data.timeframe))
    bars = update_bars(model, trading, first.to_pydatetime(), now)
    result = trade_bar(session, now, bars, model)
    print(f"{trading.name}: bar {result.bar_ts}, model v{result.model_version}, {len(result.orders)} order(s)")
    return result
