"""The ledger and the paper broker on real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from pipeline.execution.broker import MarketBar
from pipeline.execution.ledger import Ledger
from pipeline.execution.model import (
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderIntent,
    OrderStatus,
    OrderSubmitted,
    Side,
    TradingState,
)
from pipeline.execution.paper import PaperBroker
from pipeline.store import ensure_schema

BAR = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def _intent(strategy: str, side: Side = Side.BUY, qty: float = 10.0, bar: dt.datetime = BAR) -> OrderIntent:
    return OrderIntent(strategy, "AAPL", side, qty, bar, "3", reference_price=100.0, target_position=0.5)


def _event(cls, intent: OrderIntent, **kw):
    return cls(intent.client_order_id, intent.strategy, intent.bar_ts, intent.model_version, BAR, **kw)


def test_record_intent_when_written_twice_for_the_same_bar_creates_one_order(db_url):
    ledger = Ledger(ensure_schema(db_url))
    strategy = f"s{uuid.uuid4().hex[:8]}"
    first, created = ledger.record_intent(_intent(strategy))
    again, created_again = ledger.record_intent(_intent(strategy))
    assert created and not created_again
    assert first.client_order_id == again.client_order_id
    assert first.status is OrderStatus.INITIALIZED and first.model_version == "3" and first.bar_ts == BAR
    assert len(ledger.orders(strategy)) == 1


def test_apply_when_events_arrive_moves_the_order_and_keeps_every_event(db_url):
    ledger = Ledger(ensure_schema(db_url))
    intent = _intent(f"s{uuid.uuid4().hex[:8]}")
    ledger.record_intent(intent)
    ledger.apply(_event(OrderSubmitted, intent))
    ledger.apply(_event(OrderAccepted, intent, broker_order_id="b1"), broker_order_id="b1")
    order = ledger.apply(_event(OrderFilled, intent, quantity=10.0, price=100.5, fee=0.1), filled_quantity=10.0)
    assert order.status is OrderStatus.FILLED and order.broker_order_id == "b1"
    kinds = [e["kind"] for e in ledger.events(intent.client_order_id)]
    assert kinds == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert ledger.events(intent.client_order_id)[-1]["data"]["price"] == 100.5


def test_record_intent_when_denied_stores_the_coded_reason_and_an_event(db_url):
    ledger = Ledger(ensure_schema(db_url))
    intent = _intent(f"s{uuid.uuid4().hex[:8]}")
    denied = _event(OrderDenied, intent, reason="MAX_ORDERS_PER_DAY: max_orders=1, sent_today=1")
    order, _ = ledger.record_intent(intent, denied)
    assert order.status is OrderStatus.DENIED and order.reason.startswith("MAX_ORDERS_PER_DAY:")
    assert [e["kind"] for e in ledger.events(intent.client_order_id)] == ["OrderDenied"]
    assert denied.code == "MAX_ORDERS_PER_DAY"


def test_set_state_when_halted_persists_reason_and_time(db_url):
    ledger = Ledger(ensure_schema(db_url))
    strategy = f"s{uuid.uuid4().hex[:8]}"
    assert ledger.state(strategy)[0] is TradingState.ACTIVE
    ledger.set_state(strategy, TradingState.HALTED, "manual: earnings", BAR)
    assert Ledger(ensure_schema(db_url)).state(strategy) == (TradingState.HALTED, "manual: earnings", BAR)


def test_paper_broker_when_backtest_fill_model_fills_at_close_plus_costs_and_survives_restart(db_url):
    engine = ensure_schema(db_url)
    account = f"a{uuid.uuid4().hex[:8]}"
    ledger = Ledger(engine)
    broker = PaperBroker(engine, account, 10_000.0, "backtest", fee_bps=10.0, slippage_bps=20.0)
    broker.on_bar("AAPL", MarketBar(BAR, open=99.0, close=100.0))
    order, _ = ledger.record_intent(_intent(account))
    report = broker.submit(order)
    assert report.status is OrderStatus.FILLED
    assert report.avg_price == pytest.approx(100.0 * 1.002) and report.fee == pytest.approx(10 * 100.2 * 1e-3)
    assert broker.submit(order).broker_order_id == report.broker_order_id  # idempotent: one order
    restarted = PaperBroker(engine, account, 999.0, "backtest")
    snap = restarted.account()
    assert snap.positions["AAPL"].quantity == 10.0
    assert snap.cash == pytest.approx(10_000.0 - 10 * 100.2 - 10 * 100.2 * 1e-3)
    assert restarted.lookup(order.client_order_id).status is OrderStatus.FILLED
    assert restarted.lookup("never-sent") is None


def test_paper_broker_when_next_open_fill_model_fills_at_the_next_bar_open(db_url):
    engine = ensure_schema(db_url)
    account = f"a{uuid.uuid4().hex[:8]}"
    broker = PaperBroker(engine, account, 10_000.0, "next_open", slippage_bps=10.0)
    broker.on_bar("AAPL", MarketBar(BAR, open=99.0, close=100.0))
    order, _ = Ledger(engine).record_intent(_intent(account, side=Side.SELL))
    assert broker.submit(order).status is OrderStatus.ACCEPTED
    assert broker.positions() == {}
    reports = broker.on_bar("AAPL", MarketBar(BAR + dt.timedelta(days=1), open=105.0, close=104.0))
    assert [r.status for r in reports] == [OrderStatus.FILLED]
    assert reports[0].avg_price == pytest.approx(105.0 * (1 - 1e-3))
    assert broker.positions()["AAPL"].quantity == -10.0


def _limit(strategy: str, side: Side, limit: float, bar: dt.datetime = BAR) -> OrderIntent:
    return OrderIntent(strategy, "AAPL", side, 10.0, bar, "3", 100.0, 0.5, limit_price=limit)


def test_record_intent_when_a_limit_price_is_given_keeps_it_in_the_ledger(db_url):
    ledger = Ledger(ensure_schema(db_url))
    strategy = f"s{uuid.uuid4().hex[:8]}"
    order, _ = ledger.record_intent(_limit(strategy, Side.BUY, 99.5))
    assert order.limit_price == 99.5 and ledger.order(order.client_order_id).limit_price == 99.5
    market, _ = ledger.record_intent(_intent(strategy, bar=BAR + dt.timedelta(days=1)))
    assert market.limit_price is None


@pytest.mark.parametrize("fill_model", ["backtest", "next_open"])
def test_paper_limit_order_when_the_price_never_crosses_rests_and_cancel_closes_it(db_url, fill_model):
    engine = ensure_schema(db_url)
    account = f"a{uuid.uuid4().hex[:8]}"
    broker = PaperBroker(engine, account, 10_000.0, fill_model, fee_bps=10.0, slippage_bps=20.0)
    broker.on_bar("AAPL", MarketBar(BAR, open=101.0, close=100.0, high=101.5, low=99.5))
    order, _ = Ledger(engine).record_intent(_limit(account, Side.BUY, 99.0))
    assert broker.submit(order).status is OrderStatus.ACCEPTED  # the close (100) is above the limit
    later = MarketBar(BAR + dt.timedelta(days=1), open=100.5, close=99.8, high=101.0, low=99.0)
    assert broker.on_bar("AAPL", later) == []  # the low touched 99 but never traded through it
    (working,) = broker.open_orders()
    assert (working.client_order_id, working.side, working.quantity, working.limit_price) == (
        order.client_order_id,
        Side.BUY,
        10.0,
        99.0,
    )
    cancelled = broker.cancel(order.client_order_id)
    assert (cancelled.status, cancelled.reason) == (OrderStatus.REJECTED, "VENUE_CANCELED")
    assert broker.open_orders() == [] and broker.positions() == {} and broker.cancel("unknown") is None
    assert broker.account().cash == 10_000.0


@pytest.mark.parametrize(
    ("side", "limit", "bar", "price"),
    [
        (Side.BUY, 99.0, MarketBar(BAR + dt.timedelta(days=1), 100.0, 99.5, 100.2, 98.7), 99.0),  # low through it
        (Side.BUY, 99.0, MarketBar(BAR + dt.timedelta(days=1), 98.0, 99.5, 100.0, 97.5), 98.0),  # gapped: the open
        (Side.SELL, 101.0, MarketBar(BAR + dt.timedelta(days=1), 100.0, 100.5, 101.4, 99.8), 101.0),
        (Side.SELL, 101.0, MarketBar(BAR + dt.timedelta(days=1), 102.0, 101.5, 102.5, 101.2), 102.0),
    ],
)
def test_paper_limit_order_when_a_later_bar_crosses_the_limit_fills_at_it_or_better(db_url, side, limit, bar, price):
    engine = ensure_schema(db_url)
    account = f"a{uuid.uuid4().hex[:8]}"
    broker = PaperBroker(engine, account, 10_000.0, "backtest", fee_bps=10.0, slippage_bps=20.0)
    broker.on_bar("AAPL", MarketBar(BAR, open=100.0, close=100.0, high=100.5, low=99.5))
    order, _ = Ledger(engine).record_intent(_limit(account, side, limit))
    assert broker.submit(order).status is OrderStatus.ACCEPTED
    (report,) = broker.on_bar("AAPL", bar)
    assert (report.status, report.avg_price) == (OrderStatus.FILLED, price)  # no slippage on a resting limit
    assert report.fee == pytest.approx(10 * price * 1e-3)
    assert broker.positions()["AAPL"].quantity == side.sign * 10.0 and broker.open_orders() == []


def test_paper_limit_order_when_marketable_at_the_close_fills_at_once_capped_at_the_limit(db_url):
    engine = ensure_schema(db_url)
    account = f"a{uuid.uuid4().hex[:8]}"
    broker = PaperBroker(engine, account, 10_000.0, "backtest", slippage_bps=20.0)
    broker.on_bar("AAPL", MarketBar(BAR, open=100.0, close=100.0))
    ledger = Ledger(engine)
    roomy, _ = ledger.record_intent(_limit(account, Side.BUY, 101.0))
    assert broker.submit(roomy).avg_price == pytest.approx(100.2)  # close plus slippage, inside the limit
    tight, _ = ledger.record_intent(_limit(account, Side.BUY, 100.1, bar=BAR + dt.timedelta(hours=1)))
    assert broker.submit(tight).avg_price == pytest.approx(100.1)  # slippage would cross the limit: capped
