"""Trading cycles on the venue adapters: a trading file naming the broker, the ledger and the local fakes."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.errors import ExecutionError
from pipeline.execution.broker import MarketBar
from pipeline.execution.cycle import reconcile, run_cycle
from pipeline.execution.model import OrderIntent, OrderStatus, Side, TradingState
from pipeline.execution.orders import submit
from pipeline.execution.runner import open_session
from pipeline.execution.trading_file import TradingFile
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import random_walk_bars

KEY, SECRET = "planted-cycle-key-4d1e", "planted-cycle-secret-93ab"


@pytest.fixture
def binance(monkeypatch):
    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    monkeypatch.setenv("QUANTGATE_BROKER_DEADLINE", "2")
    yield venue
    venue.stop()


@pytest.fixture
def alpaca(monkeypatch):
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
    monkeypatch.setenv("QUANTGATE_BROKER_DEADLINE", "2")
    yield venue
    venue.stop()


def _session(db_url: str, broker: str, symbol: str, **fields: object):
    name = f"v{uuid.uuid4().hex[:8]}"
    trading = TradingFile.model_validate(
        {"name": name, "model": "m", "broker": broker, "symbols": [symbol], "lot_size": 0.0001, **fields}
    )
    return open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0, db_url=db_url)


def _buy(session, bars, symbol: str, qty: float):
    ts = bars.index[-2].to_pydatetime()
    session.broker.on_bar(symbol, MarketBar(ts, float(bars["open"].iloc[-2]), float(bars["close"].iloc[-2])))
    intent = OrderIntent(session.strategy, symbol, Side.BUY, qty, ts, "1", float(bars["close"].iloc[-2]), 0.05)
    order, _ = session.ledger.record_intent(intent)
    return submit(session, order)


def test_binance_trading_file_trades_reconciles_and_flattens_through_the_venue(db_url, binance):
    session = _session(db_url, "binance", "BTCUSDT")
    bars = random_walk_bars(40)
    bought = _buy(session, bars, "BTCUSDT", 1.23456)
    assert (bought.status, bought.filled_quantity) == (OrderStatus.FILLED, 1.2345)  # LOT_SIZE step
    assert binance.balances["BTC"] == Decimal("1.2345")
    assert reconcile(session) == []  # ledger and venue agree
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    result = run_cycle(session, now, {"BTCUSDT": bars}, None, "1d", "crypto")  # no model: flatten
    assert [(o.side, o.status) for o in result.orders] == [(Side.SELL, OrderStatus.FILLED)]
    assert binance.balances["BTC"] == 0
    assert len(binance.orders) == 2 and len({o["clientOrderId"] for o in binance.orders}) == 2


def test_a_venue_position_changed_outside_quantgate_halts_the_strategy(db_url, binance):
    session = _session(db_url, "binance", "BTCUSDT")
    _buy(session, random_walk_bars(40), "BTCUSDT", 1.0)
    binance.balances["BTC"] += Decimal("0.5")  # someone traded on the account by hand
    with pytest.raises(ExecutionError, match=r"POSITION_MISMATCH: ledger 1 BTCUSDT, venue 1\.5 BTCUSDT"):
        reconcile(session)
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.HALTED and reason.startswith("POSITION_MISMATCH")


def test_alpaca_trading_file_trades_and_reconciles(db_url, alpaca):
    session = _session(db_url, "alpaca", "AAPL")
    bought = _buy(session, random_walk_bars(40), "AAPL", 7.0)
    assert (bought.status, bought.filled_quantity) == (OrderStatus.FILLED, 7.0)
    assert session.ledger.order(bought.client_order_id).broker_order_id == alpaca.orders[0]["id"]
    assert reconcile(session) == []
    alpaca.positions["AAPL"] = 9.0
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH: ledger 7 AAPL, venue 9 AAPL"):
        reconcile(session)


def test_a_venue_broker_needs_symbols(db_url, binance):
    trading = TradingFile.model_validate({"name": "nosym", "model": "m", "broker": "binance"})
    with pytest.raises(ExecutionError, match="needs a symbols list"):
        open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0, db_url=db_url)


def _posts(venue) -> int:
    return sum(1 for method, _ in venue.requests if method == "POST")


def test_an_unknown_outcome_stays_in_flight_and_a_booked_order_is_adopted_by_lookup(db_url, binance):
    session = _session(db_url, "binance", "BTCUSDT")
    binance.fault("accept_then_500")  # booked, but the answer is lost ...
    binance.fault("503", match="/api/v3/order", method="GET", times=3, after=1)  # ... and so are the look-ups
    order = _buy(session, random_walk_bars(40), "BTCUSDT", 1.0)
    assert order.status is OrderStatus.SUBMITTED  # in flight, not an error
    notes = reconcile(session)  # the next cycle's look-up settles it
    assert notes == [f"{order.client_order_id}: FILLED"]
    assert session.ledger.order(order.client_order_id).filled_quantity == 1.0
    assert _posts(binance) == 1 and len(binance.orders) == 1  # never resent
    assert reconcile(session) == []


def test_an_unknown_outcome_the_venue_never_booked_is_closed_not_resent(db_url, binance):
    session = _session(db_url, "binance", "BTCUSDT")
    binance.fault("503")  # refused before booking
    binance.fault("503", match="/api/v3/order", method="GET", times=3, after=1)
    order = _buy(session, random_walk_bars(40), "BTCUSDT", 1.0)
    assert order.status is OrderStatus.SUBMITTED
    reconcile(session)
    settled = session.ledger.order(order.client_order_id)
    assert settled.status is OrderStatus.REJECTED and settled.reason.startswith("NOT_AT_VENUE")
    assert _posts(binance) == 1 and binance.orders == []


def test_partial_fills_are_recorded_cumulatively_and_counted_once(db_url, alpaca):
    session = _session(db_url, "alpaca", "AAPL")
    alpaca.market_fill_ratio = 0.4
    order = _buy(session, random_walk_bars(40), "AAPL", 10.0)
    assert (order.status, order.filled_quantity) == (OrderStatus.ACCEPTED, 4.0)
    reconcile(session)
    reconcile(session)  # the same report twice changes nothing
    assert session.ledger.net_filled(session.strategy) == {"AAPL": 4.0}
    kinds = [e["kind"] for e in session.ledger.events(order.client_order_id)]
    assert kinds == ["OrderSubmitted", "OrderAccepted", "OrderPartiallyFilled"]
    session.broker.cancel(order.client_order_id)  # the rest is canceled: the order ends with what executed
    reconcile(session)
    final = session.ledger.order(order.client_order_id)
    assert (final.status, final.filled_quantity) == (OrderStatus.FILLED, 4.0)


@pytest.mark.parametrize("name", ["btc_binance.yaml", "aapl_alpaca.yaml"])
def test_shipped_venue_trading_files_load(name):
    from pipeline.execution.trading_file import load_trading_file

    trading = load_trading_file(Path(__file__).parents[3] / "deployments" / "trading" / name)
    assert trading.broker in ("binance", "alpaca") and trading.symbols


def test_planted_keys_never_reach_the_ledger(db_url, binance):
    session = _session(db_url, "binance", "BTCUSDT")
    binance.echo_keys = True  # every venue error repeats the key (and the secret) it was sent
    binance.balances["USDT"] = Decimal("1")
    order = _buy(session, random_walk_bars(40), "BTCUSDT", 1.0)
    assert order.status is OrderStatus.REJECTED and order.reason.startswith("INSUFFICIENT_BALANCE")
    written = repr(session.ledger.orders(session.strategy)) + repr(session.ledger.events(strategy=session.strategy))
    assert "***" in written  # the echo was there, and redacted
    assert KEY not in written and SECRET not in written


def test_paper_mode_on_binance_refuses_the_live_venue_url(db_url, binance, monkeypatch):
    monkeypatch.delenv("QUANTGATE_BINANCE_URL")
    with pytest.raises(ExecutionError, match="is the live venue"):
        _session(db_url, "binance", "BTCUSDT")


@pytest.mark.parametrize("venue_kind", ["alpaca", "binance"])
def test_limit_orders_from_the_trading_file_reach_the_venue_under_the_ledgers_client_order_id(
    db_url, venue_kind, request
):
    venue = request.getfixturevalue(venue_kind)
    symbol = "AAPL" if venue_kind == "alpaca" else "BTCUSDT"
    session = _session(db_url, venue_kind, symbol, order_type="limit", limit_offset_bps=25.0)
    bars = random_walk_bars(40)
    _buy(session, bars, symbol, 2.0)  # a market order (held 2)
    close = float(bars["close"].iloc[-1])
    venue.prices[symbol] = round(close, 2)  # the venue trades at the last close
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    (sell,) = run_cycle(session, now, {symbol: bars}, None, "1d", "crypto").orders  # no model: flatten, by limit
    assert sell.limit_price == pytest.approx(close * 1.0025) and sell.status is OrderStatus.ACCEPTED  # resting
    if venue_kind == "alpaca":
        (booked,) = venue.orders_with(sell.client_order_id)
        assert (booked["type"], float(booked["limit_price"])) == ("limit", round(close * 1.0025, 2))
    else:
        (booked,) = venue.orders_with(sell.client_order_id)
        assert (booked["type"], float(booked["price"])) == ("LIMIT", math.ceil(close * 1.0025 * 100) / 100)
    assert [o.client_order_id for o in session.broker.open_orders()] == [sell.client_order_id]
    venue.move(symbol, close * 1.01)  # the market rises through the limit: the sell fills at it
    reconcile(session)
    final = session.ledger.order(sell.client_order_id)
    assert (final.status, final.filled_quantity) == (OrderStatus.FILLED, 2.0)
    assert session.ledger.net_filled(session.strategy) == {} and session.broker.positions() == {}


def test_a_base_asset_commission_leaves_ledger_and_venue_agreeing(db_url, binance):
    binance.commission_asset = "base"  # Binance's default: a buy's fee comes out of the BTC received
    session = _session(db_url, "binance", "BTCUSDT")
    bars = random_walk_bars(40)
    bought = _buy(session, bars, "BTCUSDT", 1.0)
    assert binance.balances["BTC"] == Decimal("0.999")  # 1 BTC bought, 0.001 BTC commission
    assert (bought.status, bought.filled_quantity, bought.fee) == (OrderStatus.FILLED, 0.999, pytest.approx(0.1))
    assert session.ledger.net_filled(session.strategy) == {"BTCUSDT": 0.999}
    assert reconcile(session) == []  # no POSITION_MISMATCH at the default tolerance of 0
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    result = run_cycle(session, now, {"BTCUSDT": bars}, None, "1d", "crypto")  # no model: flatten
    assert [(o.side, o.status, o.filled_quantity) for o in result.orders] == [(Side.SELL, OrderStatus.FILLED, 0.999)]
    assert binance.balances["BTC"] == 0 and reconcile(session) == []


def test_a_bnb_commission_the_venue_cannot_price_stays_in_flight_until_it_can(db_url, binance):
    binance.commission_asset = "BNB"
    binance.balances["BNB"] = Decimal("1")
    del binance.tickers["BNBUSDT"]  # the venue answers -1121 Invalid symbol. to the price read
    session = _session(db_url, "binance", "BTCUSDT")
    order = _buy(session, random_walk_bars(40), "BTCUSDT", 1.0)
    assert order.status is OrderStatus.SUBMITTED  # in flight: the ledger handles it like any unknown outcome
    with pytest.raises(ExecutionError, match=r"commission 0\.000125 BNB cannot be valued in USDT"):
        reconcile(session)  # looked up again: still unknown, the cycle fails without halting or resending
    assert session.ledger.order(order.client_order_id).status is OrderStatus.SUBMITTED
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE
    binance.tickers["BNBUSDT"] = 640.0
    assert reconcile(session) == [f"{order.client_order_id}: FILLED"]
    settled = session.ledger.order(order.client_order_id)
    assert (settled.filled_quantity, settled.fee) == (1.0, pytest.approx(0.000125 * 640.0, rel=1e-12))
    assert _posts(binance) == 1 and len(binance.orders) == 1  # never resent
    assert reconcile(session) == []
