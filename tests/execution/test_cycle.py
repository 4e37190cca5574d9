"""The trading cycle without MLflow: flattening when there is no model, reruns, halts and reconciliation."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from pipeline.errors import ExecutionError
from pipeline.execution.broker import MarketBar
from pipeline.execution.cycle import reconcile, run_cycle
from pipeline.execution.ledger import Ledger
from pipeline.execution.model import OrderIntent, OrderStatus, Side, TradingState
from pipeline.execution.paper import PaperBroker
from pipeline.execution.session import TradingSession, risk_engine
from pipeline.execution.trading_file import TradingFile
from pipeline.store import ensure_schema
from tests.stubs import random_walk_bars


def _session(db_url: str, fields: dict | None = None, **risk) -> TradingSession:
    name = f"s{uuid.uuid4().hex[:8]}"
    trading = TradingFile.model_validate(
        {"name": name, "model": "m", "capital": 10_000.0, "risk": risk, **(fields or {})}
    )
    engine = ensure_schema(db_url)
    broker = PaperBroker(engine, name, trading.capital, "backtest", fee_bps=10.0, slippage_bps=5.0)
    anchor = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    return TradingSession(trading, Ledger(engine), broker, name, anchor, risk_engine(trading, "1d"))


def _hold(session: TradingSession, bars, qty: float = 5.0, symbol: str = "TEST") -> None:
    """Give the strategy a filled long position decided on the bar before the last."""
    ts = bars.index[-2].to_pydatetime()
    session.broker.on_bar(symbol, MarketBar(ts, float(bars["open"].iloc[-2]), float(bars["close"].iloc[-2])))
    intent = OrderIntent(session.strategy, symbol, Side.BUY, qty, ts, "1", float(bars["close"].iloc[-2]), 0.05)
    order, _ = session.ledger.record_intent(intent)
    from pipeline.execution.orders import submit

    assert submit(session, order).status is OrderStatus.FILLED


def test_run_cycle_when_no_model_flattens_once_even_when_rerun_for_the_same_bar(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    _hold(session, bars)
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    first = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto")
    again = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto")
    assert [(o.side, o.status, o.model_version) for o in first.orders] == [(Side.SELL, OrderStatus.FILLED, "none")]
    assert [o.client_order_id for o in again.orders] == [o.client_order_id for o in first.orders]
    assert len(session.ledger.orders(session.strategy)) == 2  # the buy and one sell
    assert session.broker.positions() == {}


def test_run_cycle_when_reducing_allows_the_flattening_sell(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    _hold(session, bars)
    session.ledger.set_state(session.strategy, TradingState.REDUCING, "manual")
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (order,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto").orders
    assert order.status is OrderStatus.FILLED


def test_run_cycle_when_halted_records_a_denial_and_sends_nothing(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    _hold(session, bars)
    session.ledger.set_state(session.strategy, TradingState.HALTED, "MANUAL_HALT: test")
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (order,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto").orders
    assert order.status is OrderStatus.DENIED and order.reason.startswith("TRADING_HALTED:")
    events = session.ledger.events(order.client_order_id)
    assert [e["kind"] for e in events] == ["OrderDenied"] and events[0]["model_version"] == "none"
    assert session.broker.positions()["TEST"].quantity == 5.0


def test_run_cycle_when_the_bar_has_not_closed_refuses_it(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    with pytest.raises(ExecutionError, match="no closed bar"):
        run_cycle(session, bars.index[0].to_pydatetime(), {"TEST": bars}, None, "1d", "crypto")


def test_reconcile_when_broker_position_differs_from_ledger_halts_and_fails_closed(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    _hold(session, bars)
    other = PaperBroker(session.broker.engine, session.strategy, 0.0, "backtest")  # same account, by hand
    ts = bars.index[-1].to_pydatetime()
    other.on_bar("TEST", MarketBar(ts, 1.0, 1.0))
    stray = OrderIntent("by-hand", "TEST", Side.BUY, 1.0, ts, "1", 1.0, 0.0)
    order, _ = Ledger(session.broker.engine).record_intent(stray)
    other.submit(order)
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH: ledger 5 TEST, venue 6 TEST"):
        reconcile(session)
    assert session.ledger.state(session.strategy)[0] is TradingState.HALTED


def test_run_cycle_when_daily_loss_limit_is_hit_halts_until_the_next_session(db_url):
    session = _session(db_url, daily_loss_limit=0.01)
    bars = random_walk_bars(41)
    _hold(session, bars.iloc[:-1], qty=50.0)
    crash = bars.iloc[:-1].copy()
    crash.iloc[-1, crash.columns.get_loc("close")] = crash["close"].iloc[-2] * 0.5  # a 50 % fall on the last bar
    crash.iloc[-1, crash.columns.get_loc("low")] = crash["close"].iloc[-1]
    now = crash.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (denied,) = run_cycle(session, now, {"TEST": crash}, None, "1d", "crypto").orders
    assert denied.status is OrderStatus.DENIED and denied.reason.startswith("DAILY_LOSS_LIMIT:")
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.HALTED and reason.startswith("DAILY_LOSS_LIMIT:")
    nxt = bars.copy()
    nxt.iloc[:-1] = crash
    nxt.iloc[-1, nxt.columns.get_loc("close")] = crash["close"].iloc[-1]  # a flat next session
    (sold,) = run_cycle(session, now + dt.timedelta(days=1), {"TEST": nxt}, None, "1d", "crypto").orders
    assert sold.status is OrderStatus.FILLED and sold.side is Side.SELL
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE


def test_run_cycle_when_an_equity_bar_falls_outside_the_exchange_sessions_denies_market_closed(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40, start="2024-01-01")
    bars = bars[bars.index <= "2024-02-03"]  # ends on Saturday 2024-02-03: no NYSE session
    _hold(session, bars)
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (order,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "equity").orders
    assert order.status is OrderStatus.DENIED and order.reason.startswith("MARKET_CLOSED:")


def test_run_cycle_when_orders_exceed_the_daily_maximum_denies_the_extra_ones(db_url):
    session = _session(db_url, max_orders_per_day=1)
    bars = random_walk_bars(40)
    _hold(session, bars, symbol="AAA")
    _hold(session, bars, symbol="BBB")
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    orders = run_cycle(session, now, {"AAA": bars, "BBB": bars}, None, "1d", "crypto").orders
    assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.DENIED]
    assert orders[1].reason.startswith("MAX_ORDERS_PER_DAY:")


def _next_bar(bars, **values):
    """``bars`` plus one daily bar with the given open/high/low/close."""
    import pandas as pd

    ts = bars.index[-1] + pd.Timedelta(days=1)
    row = {"open": 0.0, "high": 0.0, "low": 0.0, "close": 0.0, "volume": 1e6, **values}
    return pd.concat([bars, pd.DataFrame([row], index=pd.DatetimeIndex([ts], name="ts"))])


def test_run_cycle_when_order_type_limit_rests_the_order_and_fills_it_when_a_later_bar_crosses(db_url):
    session = _session(db_url, {"order_type": "limit", "limit_offset_bps": 50.0})
    bars = random_walk_bars(40)
    _hold(session, bars)
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (sell,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto").orders  # flatten, by limit
    limit = float(bars["close"].iloc[-1]) * 1.005
    assert (sell.side, sell.status, sell.limit_price) == (Side.SELL, OrderStatus.ACCEPTED, pytest.approx(limit))
    assert session.broker.positions()["TEST"].quantity == 5.0  # the close did not reach the limit
    later = _next_bar(bars, open=limit * 0.999, high=limit * 1.002, low=limit * 0.99, close=limit * 0.995)
    result = run_cycle(session, now + dt.timedelta(days=1), {"TEST": later}, None, "1d", "crypto")
    assert result.orders == []  # flat now: nothing more to send
    filled = session.ledger.order(sell.client_order_id)
    assert (filled.status, filled.avg_price) == (OrderStatus.FILLED, pytest.approx(limit))  # at the limit
    assert session.broker.positions() == {} and session.ledger.net_filled(session.strategy) == {}


def test_run_cycle_when_a_limit_order_was_not_reached_cancels_it_and_decides_again(db_url):
    session = _session(db_url, {"order_type": "limit", "limit_offset_bps": 50.0})
    bars = random_walk_bars(40)
    _hold(session, bars)
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (first,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto").orders
    close = float(bars["close"].iloc[-1])
    later = _next_bar(bars, open=close, high=close * 1.004, low=close * 0.99, close=close * 0.995)  # short of it
    (second,) = run_cycle(session, now + dt.timedelta(days=1), {"TEST": later}, None, "1d", "crypto").orders
    cancelled = session.ledger.order(first.client_order_id)
    assert (cancelled.status, cancelled.reason) == (OrderStatus.REJECTED, "VENUE_CANCELED")
    assert second.client_order_id != first.client_order_id and second.status is OrderStatus.ACCEPTED
    assert second.limit_price == pytest.approx(close * 0.995 * 1.005)  # decided again on the new close
    assert [o.client_order_id for o in session.broker.open_orders()] == [second.client_order_id]  # never two


def test_run_cycle_when_order_type_market_sends_no_limit_price(db_url):
    session = _session(db_url)
    bars = random_walk_bars(40)
    _hold(session, bars)
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (sell,) = run_cycle(session, now, {"TEST": bars}, None, "1d", "crypto").orders
    assert (sell.status, sell.limit_price) == (OrderStatus.FILLED, None)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((TradingState.ACTIVE, ""), (TradingState.HALTED, "POSITION_MISMATCH: x")),
        ((TradingState.HALTED, "DAILY_LOSS_LIMIT: -6%"), (TradingState.HALTED, "DAILY_LOSS_LIMIT: -6%")),
        ((TradingState.HALTED, "MANUAL_HALTED: audit"), (TradingState.HALTED, "MANUAL_HALTED: audit")),
        ((TradingState.HALTED, "ORDER_MISMATCH: y"), (TradingState.HALTED, "POSITION_MISMATCH: x")),
        (
            (TradingState.REDUCING, "MANUAL_REDUCING: wind"),
            (TradingState.HALTED, "POSITION_MISMATCH: x | before: MANUAL_REDUCING: wind"),
        ),
    ],
)
def test_reconcile_halt_when_another_halt_holds_keeps_its_reason(db_url, before, after):
    from pipeline.execution.reconcile import halt

    session = _session(db_url)
    session.ledger.set_state(session.strategy, *before)
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH: x; halted"):
        halt(session, "POSITION_MISMATCH: x")
    assert session.ledger.state(session.strategy)[:2] == after
