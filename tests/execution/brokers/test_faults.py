"""Scripted venue faults through the cycle's submit and reconcile: no lost order, no duplicate, no unknown position.

Each fault sends one market order through :func:`pipeline.execution.orders.submit` (the path a cycle uses),
then runs :func:`reconcile` as the next cycle would. Counted over every fault: orders the venue booked,
duplicates (two venue orders under one client order id) and losses (a venue order the ledger does not know,
or a ledger/venue position difference after reconcile). The counts are printed (``pytest -s``).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from pipeline.errors import ExecutionError
from pipeline.execution.cycle import reconcile
from pipeline.execution.model import OrderStatus, TradingState
from tests.execution.brokers.test_cycle_on_venues import KEY, SECRET, _buy, _session
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import random_walk_bars

BINANCE_FAULTS = {
    "accept_then_500": lambda v: v.fault("accept_then_500"),
    "accept_then_1007": lambda v: v.fault("accept_then_1007"),
    "timeout_after_accept": lambda v: v.fault("accept_then_hang"),
    "5xx_before_booking": lambda v: v.fault("503"),
    "5xx_storm_on_lookups": lambda v: (
        v.fault("accept_then_500"),
        v.fault("503", match="/api/v3/order", method="GET", times=3, after=1),
    ),
    "clock_skew_-1021": lambda v: setattr(v, "skew_ms", 60_000),
    "partial_fill_expired": lambda v: setattr(v, "market_fill_ratio", 0.5),
    "5xx_storm_everywhere": lambda v: v.fault("503", "*", "*", times=100),
    "429_storm_everywhere": lambda v: v.fault("429", "*", "*", times=100),
    "5xx_storm_after_accept": lambda v: (v.fault("accept_then_500"), v.fault("503", "*", "*", times=100, after=2)),
    "hung_venue": lambda v: v.fault("hang", "*", "*", times=100),
    "hung_after_accept": lambda v: (
        v.fault("accept_then_hang"),
        v.fault("hang", "/api/v3/order", "GET", times=100, after=1),
    ),
}
ALPACA_FAULTS = {
    "accept_then_504_client_retry": lambda v: v.fault("accept_then_504"),
    "429_storm": lambda v: v.fault("429", times=3),
    "accept_then_500": lambda v: v.fault("accept_then_500"),
    "timeout_after_accept": lambda v: v.fault("accept_then_hang"),
    "500_before_booking": lambda v: v.fault("500"),
    "partial_fill": lambda v: setattr(v, "market_fill_ratio", 0.4),
    "503_storm_everywhere": lambda v: v.fault("503", "*", "*", times=100),
    "429_storm_everywhere_past_client_retries": lambda v: v.fault("429", "*", "*", times=100),
    "504_storm_after_accept": lambda v: (v.fault("accept_then_504"), v.fault("504", "*", "*", times=100)),
    "hung_venue": lambda v: v.fault("hang", "*", "*", times=100),
    "hung_after_accept": lambda v: (
        v.fault("accept_then_hang"),
        v.fault("hang", "/v2/orders:by_client_order_id", "GET", times=100),
    ),
}
#: Seconds within which every scripted fault ends reconciled (or HALTED): the failing cycle plus the next one.
FAULT_DEADLINE_S = 20.0


def _run(db_url, monkeypatch, venue_kind: str, faults: dict) -> dict[str, float]:
    counts = {"faults": 0, "orders": 0, "duplicates": 0, "losses": 0, "failed_cycles": 0, "max_seconds": 0.0}
    monkeypatch.setenv("QUANTGATE_BROKER_DEADLINE", "1")
    for name, script in faults.items():
        if venue_kind == "binance":
            venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
            monkeypatch.setenv("BINANCE_API_KEY", KEY)
            monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
            monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
            symbol, cid_field = "BTCUSDT", "clientOrderId"
        else:
            venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
            monkeypatch.setenv("APCA_API_KEY_ID", KEY)
            monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
            monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
            symbol, cid_field = "AAPL", "client_order_id"
        venue.hang_s = 1.5
        try:
            session = _session(db_url, venue_kind, symbol)
            if venue_kind == "alpaca":
                session.broker.client._retry_wait = 0.01
                session.broker.settle_wait = 0.05
            else:
                session.broker.settle_wait = 0.05
            script(venue)
            started = time.monotonic()
            try:
                _buy(session, random_walk_bars(40), symbol, 2.0)
            except ExecutionError as exc:  # the venue could not be reached: the cycle fails, nothing is lost
                assert "unavailable" in str(exc) or "refused" in str(exc), (name, str(exc))
                counts["failed_cycles"] += 1
            venue.heal()  # the venue comes back; the next cycle reconciles
            reconcile(session)
            for working in session.ledger.open_orders(session.strategy):  # no outcome left unknown
                assert working.status is OrderStatus.ACCEPTED, (name, working.status)
                assert session.broker.lookup(working.client_order_id) is not None, name
            assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE, name
            counts["max_seconds"] = round(max(counts["max_seconds"], time.monotonic() - started), 2)
            cids = [o[cid_field] for o in venue.orders]
            counts["faults"] += 1
            counts["orders"] += len(cids)
            counts["duplicates"] += len(cids) - len(set(cids))
            known = {o.client_order_id for o in session.ledger.orders(session.strategy)}
            counts["losses"] += sum(1 for c in cids if c not in known)
            if venue_kind == "binance":
                held = float(venue.balances.get("BTC", Decimal(0)))
            else:
                held = venue.positions.get("AAPL", 0.0)
            ours = session.ledger.net_filled(session.strategy).get(symbol, 0.0)
            counts["losses"] += int(abs(held - ours) > 1e-9)
            assert (name, len(cids) - len(set(cids)), abs(held - ours) < 1e-9) == (name, 0, True)
        finally:
            venue.stop()
    return counts


@pytest.mark.slow  # ~60 s over both venues and both databases; CI runs it
@pytest.mark.parametrize(("venue_kind", "faults"), [("binance", BINANCE_FAULTS), ("alpaca", ALPACA_FAULTS)])
def test_every_scripted_fault_ends_with_no_lost_and_no_duplicate_order(db_url, monkeypatch, venue_kind, faults):
    counts = _run(db_url, monkeypatch, venue_kind, faults)
    print(f"\n{venue_kind} fault suite: {counts}")
    assert counts["faults"] == len(faults) and counts["duplicates"] == 0 and counts["losses"] == 0
    assert counts["max_seconds"] <= FAULT_DEADLINE_S
    booked_expected = sum(1 for n in faults if not any(k in n for k in ("before_booking", "everywhere", "hung_venue")))
    assert counts["orders"] == booked_expected  # every fault that let the order through booked it exactly once


@pytest.fixture
def alpaca_session(db_url, monkeypatch):
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
    yield venue, _session(db_url, "alpaca", "AAPL")
    venue.stop()


def _working_limit(session, venue):
    from pipeline.execution.model import OrderIntent, Side
    from pipeline.execution.orders import record

    ts = random_walk_bars(40).index[-2].to_pydatetime()
    intent = OrderIntent(session.strategy, "AAPL", Side.BUY, 5.0, ts, "1", 100.0, 0.01)
    order, _ = session.ledger.record_intent(intent)
    return record(session.ledger, order, session.broker.submit(order, limit_price=90.0))


def test_a_venue_restart_that_loses_open_orders_halts(alpaca_session):
    from pipeline.errors import ExecutionError
    from pipeline.execution.model import OrderStatus, TradingState

    venue, session = alpaca_session
    order = _working_limit(session, venue)
    assert order.status is OrderStatus.ACCEPTED
    venue.orders.clear()  # the venue came back without its open orders
    with pytest.raises(ExecutionError, match=r"ORDER_MISMATCH: order .* unknown to the venue"):
        reconcile(session)
    assert session.ledger.state(session.strategy)[0] is TradingState.HALTED


def test_a_fill_that_wins_the_race_with_a_cancel_is_recorded_as_filled(alpaca_session):
    from pipeline.execution.model import OrderStatus

    venue, session = alpaca_session
    order = _working_limit(session, venue)
    booked = venue.orders_with(order.client_order_id)[0]
    booked.update(status="filled", filled_qty="5", filled_avg_price="90.0")  # filled just before the cancel
    venue.positions["AAPL"] = 5.0
    report = session.broker.cancel(order.client_order_id)  # the venue answers 422: not cancelable
    assert (report.status, report.filled_quantity) == (OrderStatus.FILLED, 5.0)
    reconcile(session)
    assert session.ledger.net_filled(session.strategy) == {"AAPL": 5.0}


def test_a_fill_arriving_after_the_cancel_request_is_recorded_and_positions_agree(alpaca_session):
    from pipeline.execution.model import OrderStatus

    venue, session = alpaca_session
    venue.cancel_pending = True  # the venue acknowledges the cancel request but has not cancelled yet
    order = _working_limit(session, venue)
    report = session.broker.cancel(order.client_order_id)
    assert report.status is OrderStatus.ACCEPTED  # pending_cancel: still working
    reconcile(session)
    venue.fill_resting(order.client_order_id)  # ... and then the fill arrives
    reconcile(session)  # the next cycle records the fill: the position is known, nothing is lost
    final = session.ledger.order(order.client_order_id)
    assert (final.status, final.filled_quantity, final.avg_price) == (OrderStatus.FILLED, 5.0, 90.0)
    assert session.ledger.net_filled(session.strategy) == {"AAPL": 5.0} and venue.positions == {"AAPL": 5.0}
    assert len(venue.orders) == 1


def test_a_binance_restart_that_loses_a_resting_order_halts_and_a_fill_before_cancel_is_kept(db_url, monkeypatch):
    from pipeline.execution.model import OrderIntent, OrderStatus, Side
    from pipeline.execution.orders import record

    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    try:
        session = _session(db_url, "binance", "BTCUSDT")
        bars = random_walk_bars(40).index
        placed = []
        for ts in (bars[-3].to_pydatetime(), bars[-2].to_pydatetime()):
            intent = OrderIntent(session.strategy, "BTCUSDT", Side.BUY, 1.0, ts, "1", 100.0, 0.01)
            order, _ = session.ledger.record_intent(intent)
            placed.append(record(session.ledger, order, session.broker.submit(order, limit_price=90.0)))
        assert [o.status for o in placed] == [OrderStatus.ACCEPTED, OrderStatus.ACCEPTED]
        venue.fault("fill_first", method="DELETE")  # the first resting order fills just before its cancel
        assert session.broker.cancel(placed[0].client_order_id).status is OrderStatus.FILLED
        reconcile(session)
        assert session.ledger.order(placed[0].client_order_id).filled_quantity == 1.0
        venue.orders[:] = [o for o in venue.orders if o["clientOrderId"] != placed[1].client_order_id]  # restart
        with pytest.raises(ExecutionError, match=r"ORDER_MISMATCH: order .* unknown to the venue"):
            reconcile(session)
        assert session.ledger.state(session.strategy)[0] is TradingState.HALTED
        assert (
            session.ledger.net_filled(session.strategy) == {"BTCUSDT": 1.0} == {"BTCUSDT": float(venue.balances["BTC"])}
        )
    finally:
        venue.stop()


@pytest.mark.parametrize("venue_kind", ["binance", "alpaca"])
@pytest.mark.parametrize("kill_at", ["after_ledger_write", "after_submit"])
def test_a_process_killed_mid_order_ends_with_one_order_and_a_reconciled_ledger(
    db_url, monkeypatch, tmp_path, venue_kind, kill_at
):
    """SIGKILL between the ledger write and the submit, or after the venue booked the order but before its
    answer was recorded; the restarted cycle for the same bar ends with exactly one venue order."""
    import os
    import signal
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from pipeline.execution.model import OrderStatus

    strategy, bar = f"kill-{uuid.uuid4().hex[:8]}", random_walk_bars(40).index[-2].to_pydatetime()
    if venue_kind == "binance":
        venue, symbol, cid_field = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start(), "BTCUSDT", "clientOrderId"
        env = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET, "QUANTGATE_BINANCE_URL": venue.url}
    else:
        venue, symbol, cid_field = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start(), "AAPL", "client_order_id"
        env = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "QUANTGATE_ALPACA_TRADING_URL": venue.url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    marker = tmp_path / "paused"
    child_env = {
        **os.environ,
        "QUANTGATE_DB_URL": db_url,
        "QUANTGATE_BROKER_DEADLINE": "120",
        "QUANTGATE_HOME": str(tmp_path),
    }
    if kill_at == "after_ledger_write":
        child_env.update(QUANTGATE_TEST_PAUSE_AT="trade_before_submit", QUANTGATE_TEST_PAUSE_MARKER=str(marker))
    else:
        venue.hang_s = 120.0
        venue.fault("accept_then_hang")  # booked; the answer never comes back before the kill
    root = Path(__file__).parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.execution.brokers._kill_child", strategy, venue_kind, symbol, bar.isoformat()],
        cwd=root,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        reached = lambda: marker.exists() if kill_at == "after_ledger_write" else bool(venue.orders)  # noqa: E731
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reached(), f"the child never reached {kill_at} (exit {proc.poll()})"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        session = _session(db_url, venue_kind, symbol)
        session = type(session)(session.trading, session.ledger, session.broker, strategy, session.anchor, session.risk)
        (written,) = session.ledger.orders(strategy)
        assert written.status is OrderStatus.INITIALIZED  # in the ledger; the answer (if any) was never recorded
        assert len(venue.orders) == (1 if kill_at == "after_submit" else 0)
        venue.heal()
        reconcile(session, bar)  # the restarted cycle for the same bar
        reconcile(session, bar)  # and another one: nothing is sent twice
        cids = [o[cid_field] for o in venue.orders]
        assert cids == [written.client_order_id]  # exactly one order at the venue: none lost, none duplicated
        final = session.ledger.order(written.client_order_id)
        assert final.status is OrderStatus.FILLED and final.filled_quantity == 2.0
        held = float(venue.balances["BTC"]) if venue_kind == "binance" else venue.positions["AAPL"]
        assert session.ledger.net_filled(strategy) == {symbol: held}
        print(f"\n{venue_kind} kill {kill_at}: faults 1, orders 1, duplicates 0, losses 0")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        venue.stop()


@pytest.mark.parametrize("venue_kind", ["binance", "alpaca"])
def test_an_order_placed_at_the_venue_outside_quantgate_halts_and_accept_leaves_nothing_unknown(
    db_url, monkeypatch, venue_kind
):
    import uuid

    from pipeline.execution.reconcile import accept

    if venue_kind == "binance":
        venue, symbol, cid_field = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start(), "BTCUSDT", "clientOrderId"
        env = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET, "QUANTGATE_BINANCE_URL": venue.url}
        hand = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "95"}
        placed = lambda cid: venue._place({**hand, "newClientOrderId": cid, "timeInForce": "GTC"})  # noqa: E731
    else:
        venue, symbol, cid_field = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start(), "AAPL", "client_order_id"
        env = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "QUANTGATE_ALPACA_TRADING_URL": venue.url}
        hand = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"}
        placed = lambda cid: venue._place({**hand, "limit_price": 95, "client_order_id": cid}, {})  # noqa: E731
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        session = _session(db_url, venue_kind, symbol)
        _buy(session, random_walk_bars(40), symbol, 2.0)
        hand_id = f"by-hand-{uuid.uuid4().hex[:6]}"
        assert placed(hand_id)[0] == 200  # someone places an order on the account by hand
        with pytest.raises(ExecutionError, match=f"UNKNOWN_OPEN_ORDER: venue order {hand_id} .* not in the ledger"):
            reconcile(session)
        assert session.ledger.state(session.strategy)[0] is TradingState.HALTED
        accept(session, "ops", "placed by the desk")
        known = {o.client_order_id for o in session.ledger.orders(session.strategy)}
        cids = [o[cid_field] for o in venue.orders]
        assert len(cids) == len(set(cids)) == 2 and set(cids) <= known  # no duplicate, nothing unknown
        assert session.ledger.order(hand_id).status is OrderStatus.ACCEPTED
        assert session.ledger.state(session.strategy)[0] is TradingState.ACTIVE
        reconcile(session)  # the next cycle's reconcile finds nothing
        print(f"\n{venue_kind} order placed outside quantgate: faults 1, orders 2, duplicates 0, losses 0")
    finally:
        venue.stop()
