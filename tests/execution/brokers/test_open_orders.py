"""Venue open orders through the official clients (Alpaca ``GET /v2/orders?status=open``, Binance
``GET /api/v3/openOrders``), and limit orders carried by the ledger's order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from pipeline.errors import ExecutionError
from pipeline.execution.broker import MarketBar, VenueOrder
from pipeline.execution.brokers import VenueKeys
from pipeline.execution.brokers.alpaca import OPEN_ORDERS_PAGE, AlpacaBroker
from pipeline.execution.brokers.binance import BinanceBroker
from pipeline.execution.model import Order, OrderStatus, Side
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue

KEY, SECRET = "planted-open-key-51c0", "planted-open-secret-7d2e"
BAR = dt.datetime(2026, 12, 1, 21, tzinfo=dt.UTC)


def _order(symbol: str, qty: float, cid: str, side: Side = Side.BUY, limit: float | None = None) -> Order:
    return Order(cid, "s", symbol, side, qty, BAR, "1", OrderStatus.INITIALIZED, limit_price=limit)


@pytest.fixture
def alpaca():
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0, "MSFT": 300.0}).start()
    broker = AlpacaBroker(
        ["AAPL"], keys=VenueKeys(KEY, SECRET), base_url=venue.url, deadline=2.0, retry_wait=0.01, settle_wait=0.05
    )
    yield venue, broker
    venue.stop()


@pytest.fixture
def binance():
    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}).start()
    broker = BinanceBroker(["BTCUSDT"], keys=VenueKeys(KEY, SECRET), base_url=venue.url, deadline=2.0)
    broker.on_bar("BTCUSDT", MarketBar(BAR, 50_000.0, 50_000.0))
    yield venue, broker
    venue.stop()


def test_alpaca_lists_the_working_limit_order_of_the_whole_account_and_not_the_filled_ones(alpaca):
    venue, broker = alpaca
    assert broker.submit(_order("AAPL", 5, "qg-m-1")).status is OrderStatus.FILLED
    resting = broker.submit(_order("AAPL", 3, "qg-l-1", limit=90.0))  # the limit travels on the order
    assert resting.status is OrderStatus.ACCEPTED and venue.orders_with("qg-l-1")[0]["limit_price"] == 90.0
    venue._place(  # an order placed by hand on a symbol this strategy does not trade
        {"symbol": "MSFT", "qty": "2", "side": "sell", "type": "limit", "time_in_force": "day", "limit_price": 310},
        {},
    )
    listed = sorted(broker.open_orders(), key=lambda o: o.symbol)
    assert [(o.client_order_id, o.symbol, o.side, o.quantity, o.limit_price) for o in listed] == [
        ("qg-l-1", "AAPL", Side.BUY, 3.0, 90.0),
        (listed[1].client_order_id, "MSFT", Side.SELL, 2.0, 310.0),
    ]
    assert ("GET", "/v2/orders") in venue.requests
    venue.move("AAPL", 89.0)  # the market reaches the limit: the order fills and leaves the list
    assert [o.symbol for o in broker.open_orders()] == ["MSFT"]
    assert broker.lookup("qg-l-1").status is OrderStatus.FILLED


def test_alpaca_open_orders_are_read_page_by_page_past_the_venues_500_limit(alpaca):
    venue, broker = alpaca
    start = dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)
    for i in range(OPEN_ORDERS_PAGE + 7):  # some share a timestamp across the page boundary
        stamp = (start + dt.timedelta(seconds=i // 3)).isoformat().replace("+00:00", "Z")
        body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"}
        status, placed = venue._place({**body, "limit_price": 50.0, "client_order_id": f"hand-{i}"}, {})
        assert status == 200
        placed.update(submitted_at=stamp, created_at=stamp)
    listed = broker.open_orders()
    assert len(listed) == OPEN_ORDERS_PAGE + 7 == len({o.client_order_id for o in listed})
    assert sum(1 for method, path in venue.requests if (method, path) == ("GET", "/v2/orders")) == 2


def test_alpaca_fake_refuses_a_page_larger_than_the_venue_serves(alpaca):
    venue, _ = alpaca
    status, body = venue.handle(
        "GET", "/v2/orders", {"limit": "501"}, None, {"apca-api-key-id": KEY, "apca-api-secret-key": SECRET}
    )
    assert status == 422 and "limit" in body["message"]


def test_binance_lists_resting_orders_of_the_configured_symbols(binance):
    venue, broker = binance
    assert broker.submit(_order("BTCUSDT", 0.01, "qg-b-m")).status is OrderStatus.FILLED
    report = broker.submit(_order("BTCUSDT", 0.02, "qg-b-l", limit=49_000.0))
    assert report.status is OrderStatus.ACCEPTED
    (listed,) = broker.open_orders()
    assert listed == VenueOrder("qg-b-l", report.broker_order_id, "BTCUSDT", Side.BUY, 0.02, 0.0, 49_000.0)
    assert ("GET", "/api/v3/openOrders") in venue.requests
    venue.move("BTCUSDT", 48_900.0)
    assert broker.open_orders() == []
    assert broker.lookup("qg-b-l").status is OrderStatus.FILLED


def test_binance_marketable_limit_order_fills_at_once_at_the_market(binance):
    _, broker = binance
    report = broker.submit(_order("BTCUSDT", 0.01, "qg-b-x", side=Side.SELL, limit=49_000.0))
    assert report.status is OrderStatus.REJECTED and report.reason.startswith("INSUFFICIENT_BALANCE")
    report = broker.submit(_order("BTCUSDT", 0.01, "qg-b-y", limit=51_000.0))
    assert (report.status, report.avg_price) == (OrderStatus.FILLED, 50_000.0)


def test_open_orders_when_the_venue_is_down_raise_one_line_never_an_empty_list(binance, alpaca):
    for venue, broker, path in (
        (binance[0], binance[1], "/api/v3/openOrders"),
        (alpaca[0], alpaca[1], "/v2/orders"),
    ):
        venue.fault("503", path, "GET", times=10)
        with pytest.raises(ExecutionError, match="venue unavailable") as caught:
            broker.open_orders()
        assert "\n" not in str(caught.value) and KEY not in str(caught.value)
        venue.heal()


def test_a_limit_order_resubmitted_after_a_restart_keeps_its_limit(binance):
    venue, broker = binance
    cid = f"qg-r-{uuid.uuid4().hex[:6]}"
    order = _order("BTCUSDT", 0.02, cid, limit=48_000.0)
    first = broker.submit(order)
    again = broker.submit(dataclasses.replace(order))  # a restarted cycle sends the ledger's order again
    assert first.broker_order_id == again.broker_order_id and len(venue.orders_with(cid)) == 1
    assert venue.orders_with(cid)[0]["price"] == "48000"
