"""One trading cycle of one trading file, for the last closed bar.

After the cycle: a table artifact of the bar's orders and the broker's positions, and a step in the
trading day's MLflow run. A cycle that halts the strategy or fails is announced through the trading
file's notification block (``notify.block``), with the coded reason.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from pipeline.errors import first_line
from pipeline.execution.runner import first_decision
from pipeline.execution.session import CycleResult
from tasks.trade import (
    load_trading,
    notify,
    publish_cycle,
    resolve_production,
    session_for,
    track_cycle,
    trade_bar,
    trade_without_model,
    trading_state,
    update_bars,
)

HALTED = "HALTED"


@flow(name="trade", flow_run_name="{trading_path}", log_prints=True, validate_parameters=False)
def trade_flow(trading_path: str, as_of: str | None = None) -> CycleResult:
    """Trade the last bar closed at ``as_of`` (ISO UTC; default now) with the Production model."""
    now = dt.datetime.fromisoformat(as_of).astimezone(dt.UTC) if as_of else dt.datetime.now(dt.UTC)
    trading = load_trading(trading_path)
    before, _ = trading_state(trading)
    try:
        result = _cycle(trading, now)
    except Exception as exc:
        state, reason = trading_state(trading)
        if state == HALTED and before != HALTED:
            subject, body = f"quantgate {trading.name}: HALTED", f"{trading.name} halted: {reason}"
        else:
            subject, body = f"quantgate {trading.name}: cycle failed", f"{trading.name} cycle failed: {first_line(exc)}"
        notify(trading, subject, f"{body} (as of {now.isoformat()})", return_state=True)  # never hides `exc`
        raise
    state, reason = trading_state(trading)
    if state == HALTED and before != HALTED:
        notify(trading, f"quantgate {trading.name}: HALTED", f"{trading.name} halted at bar {result.bar_ts}: {reason}")
    print(f"{trading.name}: bar {result.bar_ts}, model v{result.model_version}, {len(result.orders)} order(s)")
    return result


def _cycle(trading, now: dt.datetime) -> CycleResult:
    model = resolve_production(trading)
    if model is None:  # on_no_model: flatten or hold, on the bars the account holds
        session, bars, result = trade_without_model(trading, now)
    else:
        session = session_for(trading, model)
        bars = update_bars(model, trading, first_decision(model, now), now, session.anchor)
        result = trade_bar(session, now, bars, model)
    publish_cycle(session, result)
    track_cycle(session, result, bars, now)
    return result
