"""The Alpaca adapter against a local /v2 trading API, through alpaca-py's TradingClient."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from pipeline.errors import ExecutionError, OrderOutcomeUnknown
from pipeline.execution.brokers import VenueKeys
from pipeline.execution.brokers.alpaca import AlpacaBroker
from pipeline.execution.model import Order, OrderStatus, Side
from tests.fakes.alpaca_venue import AlpacaVenue

KEY, SECRET = "PKPLANTED7F3A9C", "planted-alpaca-secret-e81b22"
BAR = dt.datetime(2026, 12, 1, 21, tzinfo=dt.UTC)


@pytest.fixture
def venue():
    fake = AlpacaVenue(KEY, SECRET).start()
    yield fake
    fake.stop()


def _broker(venue: AlpacaVenue, symbols=("AAPL",), asset_class="equity", **kw) -> AlpacaBroker:
    opts = {"deadline": 2.0, "retry_wait": 0.01, "settle_wait": 0.05, **kw}
    return AlpacaBroker(list(symbols), asset_class=asset_class, keys=VenueKeys(KEY, SECRET), base_url=venue.url, **opts)


@pytest.fixture
def broker(venue):
    return _broker(venue)


def _order(qty: float, side: Side = Side.BUY, cid: str = "qg-a-1", symbol: str = "AAPL") -> Order:
    return Order(cid, "s", symbol, side, qty, BAR, "1", OrderStatus.INITIALIZED)


def test_market_order_fills_and_positions_and_account_match_the_venue(venue, broker):
    report = broker.submit(_order(10))
    assert (report.status, report.filled_quantity, report.avg_price) == (OrderStatus.FILLED, 10.0, 200.0)
    assert venue.orders_with("qg-a-1")[0]["time_in_force"] == "day"
    assert broker.positions()["AAPL"].quantity == 10.0
    assert broker.account().cash == pytest.approx(98_000.0)
    assert broker.lookup("qg-a-1").broker_order_id == report.broker_order_id
    assert broker.lookup("qg-missing") is None


def test_crypto_symbols_go_out_with_a_slash_and_come_back_as_quantgate_symbols(venue):
    broker = _broker(venue, symbols=("BTCUSD",), asset_class="crypto")
    report = broker.submit(_order(0.5, symbol="BTCUSD"))
    assert report.status is OrderStatus.FILLED
    sent = venue.orders_with("qg-a-1")[0]
    assert (sent["symbol"], sent["time_in_force"]) == ("BTC/USD", "gtc")
    assert broker.positions()["BTCUSD"].quantity == 0.5


def test_a_retried_submit_that_meets_its_own_id_is_already_submitted(venue, broker):
    venue.fault("accept_then_504")  # booked, then a 504: the client retries the POST by itself -> 422 duplicate
    report = broker.submit(_order(10))
    assert report.status is OrderStatus.FILLED
    assert len(venue.orders_with("qg-a-1")) == 1
    assert [r for r in venue.requests if r == ("POST", "/v2/orders")] == [("POST", "/v2/orders")] * 2


def test_a_429_storm_is_retried_by_the_client_within_the_deadline(venue, broker):
    venue.fault("429", times=2)
    assert broker.submit(_order(10)).status is OrderStatus.FILLED
    assert len(venue.orders_with("qg-a-1")) == 1


@pytest.mark.parametrize("fault", ["accept_then_500", "accept_then_hang"])
def test_unknown_outcome_is_settled_by_lookup(venue, fault):
    broker = _broker(venue, deadline=0.5)
    venue.fault(fault)
    assert broker.submit(_order(10)).status is OrderStatus.FILLED
    assert len(venue.orders_with("qg-a-1")) == 1


def test_a_500_before_booking_stays_unknown_and_is_not_resent(venue, broker):
    venue.fault("500")
    with pytest.raises(OrderOutcomeUnknown, match="never resent blind"):
        broker.submit(_order(10))
    assert venue.orders_with("qg-a-1") == []
    assert [r for r in venue.requests if r[0] == "POST"] == [("POST", "/v2/orders")]


def test_insufficient_buying_power_is_a_coded_rejection(venue, broker):
    report = broker.submit(_order(10_000))
    assert report.status is OrderStatus.REJECTED and report.reason.startswith("INSUFFICIENT_BALANCE")


def test_limit_order_rests_then_cancel_reports_it_canceled(venue, broker):
    working = broker.submit(_order(10), limit_price=150.004)
    assert working.status is OrderStatus.ACCEPTED
    assert venue.orders_with("qg-a-1")[0]["limit_price"] == 150.0
    canceled = broker.cancel("qg-a-1")
    assert canceled.status is OrderStatus.REJECTED and canceled.reason == "VENUE_CANCELED"


def test_a_partial_fill_then_cancel_counts_as_the_fill_it_is(venue, broker):
    venue.market_fill_ratio = 0.4
    assert broker.submit(_order(10)).status is OrderStatus.ACCEPTED
    done = broker.cancel("qg-a-1")
    assert (done.status, done.filled_quantity) == (OrderStatus.FILLED, 4.0)


def test_a_hung_venue_ends_within_the_deadline_with_one_line(venue):
    broker = _broker(venue, deadline=0.3)
    venue.fault("accept_then_hang", path="/v2/account", method="GET")
    with pytest.raises(ExecutionError, match="venue unavailable"):
        broker.account()


def test_planted_keys_appear_nowhere(venue, caplog):
    caplog.set_level(logging.DEBUG)
    venue.echo_keys = True
    broker = _broker(venue)
    texts = [repr(broker.submit(_order(10_000))), repr(broker.keys)]
    bad = AlpacaBroker(["AAPL"], keys=VenueKeys(KEY, SECRET + "x"), base_url=venue.url, deadline=2.0)
    with pytest.raises(ExecutionError) as err:
        bad.positions()
    texts += [str(err.value), caplog.text]
    assert "***" in texts[0] and "***" in texts[2]
    for text in texts:
        assert KEY not in text and SECRET not in text
