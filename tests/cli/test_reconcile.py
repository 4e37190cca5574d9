"""`quantgate reconcile FILE [--accept | --flatten]` through the real CLI, against the local venue fakes.

Acceptance: a position changed at the venue outside quantgate halts the strategy with
``POSITION_MISMATCH: ledger X SYM, venue Y SYM`` at the next cycle; ``quantgate reconcile`` prints it and
exits 1; ``--accept`` adopts the venue's position (an event with who and why) and the next cycle trades on;
``--flatten`` closes the venue's position through an order and ends flat and ACTIVE.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.errors import ExecutionError
from pipeline.execution.broker import MarketBar
from pipeline.execution.cycle import run_cycle
from pipeline.execution.model import OrderIntent, OrderStatus, Side, TradingState
from pipeline.execution.orders import submit
from pipeline.execution.runner import open_session
from pipeline.execution.trading_file import load_trading_file
from quantgate.cli import app
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import random_walk_bars

KEY, SECRET = "planted-recon-key-7c21", "planted-recon-secret-e0f4"
runner = CliRunner()


def _file(folder: Path, broker: str, symbol: str, **extra: object) -> Path:
    name = f"rec-{broker}-{uuid.uuid4().hex[:6]}"
    raw = {
        "name": name,
        "model": "m",
        "broker": broker,
        "symbols": [symbol],
        "lot_size": 0.0001,
        "on_no_model": "hold",
        "risk": {"market_hours": False},
        "credentials": {"key_env": "QG_TEST_VENUE_KEY", "secret_env": "QG_TEST_VENUE_SECRET"},
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def env(db_url, monkeypatch):
    monkeypatch.setenv("QUANTGATE_DB_URL", db_url)
    monkeypatch.setenv("QG_TEST_VENUE_KEY", KEY)
    monkeypatch.setenv("QG_TEST_VENUE_SECRET", SECRET)
    monkeypatch.setenv("QUANTGATE_BROKER_DEADLINE", "2")
    return db_url


@pytest.fixture
def alpaca(env, monkeypatch):
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
    yield venue
    venue.stop()


@pytest.fixture
def binance(env, monkeypatch):
    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    yield venue
    venue.stop()


def _open(path: Path, db_url: str):
    return open_session(load_trading_file(path), timeframe="1d", fee_bps=0.0, slippage_bps=0.0, db_url=db_url)


def _buy(session, symbol: str, qty: float, bars) -> None:
    ts = bars.index[-2].to_pydatetime()
    session.broker.on_bar(symbol, MarketBar(ts, 100.0, 100.0))
    order, _ = session.ledger.record_intent(OrderIntent(session.strategy, symbol, Side.BUY, qty, ts, "1", 100.0, 0.1))
    assert submit(session, order).status is OrderStatus.FILLED


def _cycle(session, symbol: str, bars):
    now = bars.index[-1].to_pydatetime() + dt.timedelta(days=1)
    asset = "crypto" if symbol.endswith("USDT") else "equity"
    return run_cycle(session, now, {symbol: bars.copy()}, None, "1d", asset)


def test_a_position_changed_at_the_venue_halts_the_next_cycle_and_reconcile_accept_resumes_it(alpaca, tmp_path):
    path = _file(tmp_path, "alpaca", "AAPL")
    session = _open(path, _db(alpaca))
    bars = random_walk_bars(40)
    _buy(session, "AAPL", 10.0, bars)
    assert _cycle(session, "AAPL", bars).skipped  # reconciled, trading (no model: hold)
    assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0

    alpaca.positions["AAPL"] = 12.0  # someone traded 2 AAPL on the account by hand
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH: ledger 10 AAPL, venue 12 AAPL"):
        _cycle(session, "AAPL", bars)
    state, reason, _ = session.ledger.state(session.strategy)
    assert (state, reason) == (TradingState.HALTED, "POSITION_MISMATCH: ledger 10 AAPL, venue 12 AAPL")

    shown = runner.invoke(app, ["reconcile", str(path)])
    assert shown.exit_code == 1 and "POSITION_MISMATCH: ledger 10 AAPL, venue 12 AAPL" in shown.output
    refused = runner.invoke(app, ["reconcile", str(path), "--accept"])
    assert refused.exit_code == 1 and "needs --reason" in refused.output
    assert session.ledger.state(session.strategy)[0] is TradingState.HALTED

    args = ["reconcile", str(path), "--accept", "--reason", "desk bought 2 by hand", "--by", "alice"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.ACTIVE and reason == "RECONCILE_ACCEPT: by alice: desk bought 2 by hand"
    adopted = [e for e in session.ledger.events(strategy=session.strategy) if e["kind"] == "PositionAdopted"]
    assert len(adopted) == 1 and adopted[0]["data"]["by"] == "alice"
    assert adopted[0]["reason"].startswith("RECONCILE_ACCEPT: by alice: desk bought 2 by hand: ledger 10 AAPL")
    assert (adopted[0]["data"]["ledger_quantity"], adopted[0]["data"]["venue_quantity"]) == (10.0, 12.0)
    assert session.ledger.net_filled(session.strategy) == {"AAPL": 12.0}
    assert len(alpaca.orders) == 1  # adopting sends nothing
    assert _cycle(session, "AAPL", bars).skipped  # the next cycle reconciles and goes on
    assert runner.invoke(app, ["reconcile", str(path), "--json"]).exit_code == 0


def _db(_venue) -> str:
    import os

    return os.environ["QUANTGATE_DB_URL"]


def test_reconcile_flatten_closes_the_venue_position_and_ends_flat_and_active(binance, tmp_path):
    path = _file(tmp_path, "binance", "BTCUSDT")
    session = _open(path, _db(binance))
    bars = random_walk_bars(40)
    _buy(session, "BTCUSDT", 1.0, bars)
    binance.balances["BTC"] += Decimal("0.5")
    with pytest.raises(ExecutionError, match=r"POSITION_MISMATCH: ledger 1 BTCUSDT, venue 1\.5 BTCUSDT"):
        _cycle(session, "BTCUSDT", bars)
    result = runner.invoke(app, ["reconcile", str(path), "--flatten", "--reason", "unknown deposit", "--by", "bob"])
    assert result.exit_code == 0, result.output
    assert binance.balances["BTC"] == 0
    sells = [o for o in binance.orders if o["side"] == "SELL"]
    assert len(sells) == 1 and Decimal(sells[0]["executedQty"]) == Decimal("1.5")
    assert session.ledger.net_filled(session.strategy) == {}
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.ACTIVE and reason == "RECONCILE_FLATTEN: by bob: unknown deposit"
    assert len({o["clientOrderId"] for o in binance.orders}) == len(binance.orders) == 2
    assert _cycle(session, "BTCUSDT", bars).skipped
    for text in (result.output, repr(session.ledger.events(strategy=session.strategy))):
        assert KEY not in text and SECRET not in text


def test_a_venue_that_lost_a_working_order_is_listed_and_accept_closes_it(alpaca, tmp_path):
    path = _file(tmp_path, "alpaca", "AAPL")
    session = _open(path, _db(alpaca))
    ts = random_walk_bars(40).index[-2].to_pydatetime()
    order, _ = session.ledger.record_intent(OrderIntent(session.strategy, "AAPL", Side.BUY, 5.0, ts, "1", 100.0, 0.01))
    from pipeline.execution.orders import record

    assert record(session.ledger, order, session.broker.submit(order, limit_price=90.0)).status is OrderStatus.ACCEPTED
    alpaca.orders.clear()  # the venue restarted without its open orders
    shown = runner.invoke(app, ["reconcile", str(path)])
    assert shown.exit_code == 1 and f"ORDER_MISMATCH: order {order.client_order_id}" in shown.output
    assert session.ledger.state(session.strategy)[0] is TradingState.HALTED
    done = runner.invoke(app, ["reconcile", str(path), "--accept", "--reason", "venue restart"])
    assert done.exit_code == 0, done.output
    closed = session.ledger.order(order.client_order_id)
    assert closed.status is OrderStatus.REJECTED and closed.reason.startswith("VENUE_LOST")
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE


def test_reconcile_accept_and_flatten_exclude_each_other(env, tmp_path):
    path = _file(tmp_path, "paper", "AAPL", credentials=None)
    result = runner.invoke(app, ["reconcile", str(path), "--accept", "--flatten", "--reason", "x"])
    assert result.exit_code == 1 and "exclude each other" in result.output and "Traceback" not in result.output


def test_a_venue_open_order_the_ledger_does_not_know_halts_and_accept_adopts_it_with_its_fill(binance, tmp_path):
    path = _file(tmp_path, "binance", "BTCUSDT")
    session = _open(path, _db(binance))
    bars = random_walk_bars(40)
    _buy(session, "BTCUSDT", 1.0, bars)
    web = f"web-{uuid.uuid4().hex[:6]}"
    placed = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "2", "price": "99"}
    status, hand = binance._place({**placed, "newClientOrderId": web, "timeInForce": "GTC"})
    assert status == 200
    booked = binance.orders_with(web)[0]
    binance._trade(booked, Decimal("0.5"), Decimal("99"))  # someone's order, half filled at the venue
    booked["status"] = "PARTIALLY_FILLED"
    line = f"UNKNOWN_OPEN_ORDER: venue order {web} (BUY 2 BTCUSDT limit 99, filled 0.5 (venue id {hand['orderId']}))"
    with pytest.raises(ExecutionError, match=rf"UNKNOWN_OPEN_ORDER: venue order {web} \(BUY 2 BTCUSDT limit 99"):
        _cycle(session, "BTCUSDT", bars)
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.HALTED and reason == f"{line} is not in the ledger"

    shown = runner.invoke(app, ["reconcile", str(path), "--json"])
    assert shown.exit_code == 1
    differences = json.loads(shown.stdout)["differences"]
    assert differences == [f"{line} is not in the ledger", "POSITION_MISMATCH: ledger 1 BTCUSDT, venue 1.5 BTCUSDT"]

    args = ["reconcile", str(path), "--accept", "--reason", "desk order", "--by", "carol"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    adopted = session.ledger.order(web)
    assert (adopted.strategy, adopted.status, adopted.filled_quantity, adopted.limit_price) == (
        session.strategy,
        OrderStatus.ACCEPTED,
        0.5,
        99.0,
    )
    assert adopted.broker_order_id == str(hand["orderId"]) and adopted.model_version == "reconcile"
    kinds = [e["kind"] for e in session.ledger.events(web)]
    assert kinds == ["OrderAdopted", "OrderPartiallyFilled"]
    assert session.ledger.events(web)[0]["data"]["by"] == "carol"
    events = session.ledger.events(strategy=session.strategy)
    assert not [e for e in events if e["kind"] == "PositionAdopted"]  # the adopted fill explains the position
    held = float(binance.balances["BTC"])
    assert session.ledger.net_filled(session.strategy) == {"BTCUSDT": 1.5} == {"BTCUSDT": held}
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE
    assert len(binance.orders) == 2  # adopting sends nothing

    assert _cycle(session, "BTCUSDT", bars).skipped  # the next cycle cancels the adopted order (one bar, like its own)
    final = session.ledger.order(web)
    assert (final.status, final.filled_quantity) == (OrderStatus.FILLED, 0.5)  # cancelled after its partial fill
    assert booked["status"] == "CANCELED" and runner.invoke(app, ["reconcile", str(path)]).exit_code == 0


def test_a_working_order_the_venue_no_longer_lists_is_looked_up_and_recorded_not_halted(alpaca, tmp_path):
    path = _file(tmp_path, "alpaca", "AAPL")
    session = _open(path, _db(alpaca))
    ts = random_walk_bars(40).index[-2].to_pydatetime()
    intent = OrderIntent(session.strategy, "AAPL", Side.BUY, 5.0, ts, "1", 100.0, 0.01, limit_price=90.0)
    order, _ = session.ledger.record_intent(intent)
    assert submit(session, order).status is OrderStatus.ACCEPTED
    assert [o.client_order_id for o in session.broker.open_orders()] == [order.client_order_id]
    from pipeline.execution.cycle import reconcile

    reconcile(session)  # listed, working, nothing new: no look-up
    assert alpaca.requests.count(("GET", "/v2/orders:by_client_order_id")) == 0
    alpaca.move("AAPL", 89.5)  # filled at the venue: no longer listed as open
    reconcile(session)
    final = session.ledger.order(order.client_order_id)
    assert (final.status, final.filled_quantity, final.avg_price) == (OrderStatus.FILLED, 5.0, 90.0)
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE


def test_accept_resolves_the_difference_but_never_lifts_a_manual_halt(alpaca, tmp_path):
    path = _file(tmp_path, "alpaca", "AAPL")
    session = _open(path, _db(alpaca))
    _buy(session, "AAPL", 10.0, random_walk_bars(40))
    assert runner.invoke(app, ["halt", str(path), "--reason", "earnings call"]).exit_code == 0
    alpaca.positions["AAPL"] = 12.0
    shown = runner.invoke(app, ["reconcile", str(path)])
    assert shown.exit_code == 1 and "POSITION_MISMATCH: ledger 10 AAPL, venue 12 AAPL" in shown.output
    assert session.ledger.state(session.strategy)[:2] == (TradingState.HALTED, "MANUAL_HALTED: earnings call")

    done = runner.invoke(app, ["reconcile", str(path), "--accept", "--reason", "desk bought 2", "--by", "dan"])
    assert done.exit_code == 0, done.output
    assert "stays HALTED (MANUAL_HALTED: earnings call)" in done.output
    assert session.ledger.state(session.strategy)[:2] == (TradingState.HALTED, "MANUAL_HALTED: earnings call")
    assert session.ledger.net_filled(session.strategy) == {"AAPL": 12.0}  # the difference itself is resolved
    assert runner.invoke(app, ["resume", str(path)]).exit_code == 0
    assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE


def test_a_mismatch_during_a_manual_reducing_state_halts_and_accept_restores_reducing(alpaca, tmp_path):
    path = _file(tmp_path, "alpaca", "AAPL")
    session = _open(path, _db(alpaca))
    bars = random_walk_bars(40)
    _buy(session, "AAPL", 10.0, bars)
    assert runner.invoke(app, ["halt", str(path), "--reducing", "--reason", "wind down"]).exit_code == 0
    alpaca.positions["AAPL"] = 11.0
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH"):
        _cycle(session, "AAPL", bars)
    state, reason, _ = session.ledger.state(session.strategy)
    assert state is TradingState.HALTED and reason.startswith("POSITION_MISMATCH: ledger 10 AAPL, venue 11 AAPL")
    done = runner.invoke(app, ["reconcile", str(path), "--accept", "--reason", "found it"])
    assert done.exit_code == 0, done.output
    assert session.ledger.state(session.strategy)[:2] == (TradingState.REDUCING, "MANUAL_REDUCING: wind down")


def test_accept_adjustments_do_not_count_toward_max_orders_per_day(alpaca, tmp_path):
    risk = {"market_hours": False, "max_orders_per_day": 1, "no_contradictory_positions": False}
    path = _file(tmp_path, "alpaca", "AAPL", on_no_model="flatten", risk=risk)
    session = _open(path, _db(alpaca))
    bars = random_walk_bars(40)
    _buy(session, "AAPL", 10.0, bars)
    alpaca.positions["AAPL"] = 12.0
    done = runner.invoke(app, ["reconcile", str(path), "--accept", "--reason", "desk bought 2"])
    assert done.exit_code == 0, done.output
    (adjustment,) = [o for o in session.ledger.orders(session.strategy) if o.model_version == "reconcile"]
    assert adjustment.status is OrderStatus.FILLED and adjustment.bar_ts > bars.index[-1]  # counted "today"
    (sell,) = _cycle(session, "AAPL", bars).orders  # no Production model: flatten, the day's first order
    assert (sell.side, sell.quantity, sell.status) == (Side.SELL, 12.0, OrderStatus.FILLED), sell.reason
    assert alpaca.positions["AAPL"] == 0


def test_a_venue_open_order_of_another_strategy_halts_and_accept_refuses_to_adopt_it(alpaca, tmp_path):
    first = _open(_file(tmp_path, "alpaca", "AAPL"), _db(alpaca))
    ts = random_walk_bars(40).index[-2].to_pydatetime()
    intent = OrderIntent(first.strategy, "AAPL", Side.BUY, 5.0, ts, "1", 100.0, 0.01, limit_price=90.0)
    theirs, _ = first.ledger.record_intent(intent)
    assert submit(first, theirs).status is OrderStatus.ACCEPTED
    path = _file(tmp_path, "alpaca", "AAPL")  # a second strategy on the same venue account
    shown = runner.invoke(app, ["reconcile", str(path)])
    assert shown.exit_code == 1
    assert f"venue order {theirs.client_order_id}" in shown.output and f"strategy {first.strategy}'s" in shown.output
    refused = runner.invoke(app, ["reconcile", str(path), "--accept", "--reason", "x"])
    assert refused.exit_code == 1 and "cannot adopt venue order" in refused.output and "Traceback" not in refused.output
    assert first.ledger.order(theirs.client_order_id).strategy == first.strategy  # untouched
