"""The Binance adapter against a local venue that checks signatures, timestamps and filters."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest

from pipeline.errors import ExecutionError, OrderOutcomeUnknown
from pipeline.execution.broker import MarketBar
from pipeline.execution.brokers import VenueKeys
from pipeline.execution.brokers.binance import BinanceBroker, check_filters
from pipeline.execution.model import Order, OrderStatus, Side
from tests.fakes.binance_venue import FILTERS, BinanceVenue

KEY, SECRET = "planted-key-7f3a9c", "planted-secret-e81b22"
BAR = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


@pytest.fixture
def venue():
    fake = BinanceVenue(KEY, SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def broker(venue):
    b = BinanceBroker(["BTCUSDT"], keys=VenueKeys(KEY, SECRET), base_url=venue.url, deadline=1.0, settle_wait=0.05)
    b.on_bar("BTCUSDT", MarketBar(BAR, 50_000.0, 50_000.0))
    return b


def _order(qty: float, side: Side = Side.BUY, cid: str = "qg-test-1") -> Order:
    return Order(cid, "s", "BTCUSDT", side, qty, BAR, "1", OrderStatus.INITIALIZED)


def test_market_order_fills_through_the_official_client_with_a_valid_signature(venue, broker):
    report = broker.submit(_order(0.01234567))
    assert report.status is OrderStatus.FILLED
    assert report.filled_quantity == pytest.approx(0.0123)  # rounded down to the LOT_SIZE step
    assert report.avg_price == pytest.approx(50_000.0)
    assert report.fee == pytest.approx(0.0123 * 50_000 * 0.001)
    [placed] = venue.orders_with("qg-test-1")
    assert placed["origQty"] == "0.0123"
    assert broker.positions()["BTCUSDT"].quantity == pytest.approx(0.0123)
    assert broker.account().cash == pytest.approx(100_000 - 615 - 0.615)


def test_resubmitting_a_known_client_order_id_returns_the_existing_order(venue, broker):
    first = broker.submit(_order(0.01))
    again = broker.submit(_order(0.01))
    assert again.broker_order_id == first.broker_order_id
    assert len(venue.orders_with("qg-test-1")) == 1


def test_orders_below_the_filters_are_denied_locally_with_a_code(venue, broker):
    report = broker.submit(_order(0.00005))
    assert report.status is OrderStatus.REJECTED and report.reason.startswith("QUANTITY_BELOW_MINIMUM")
    small = broker.submit(_order(0.0001, cid="qg-test-2"))  # 0.0001 * 50000 = 5 -> ok; 0.00009 not
    assert small.status is OrderStatus.FILLED
    venue.prices["BTCUSDT"] = 100.0
    broker.on_bar("BTCUSDT", MarketBar(BAR, 100.0, 100.0))
    tiny = broker.submit(_order(0.01, cid="qg-test-3"))
    assert tiny.reason.startswith("NOTIONAL_BELOW_MINIMUM")
    assert venue.orders_with("qg-test-3") == []  # never reached the venue


def test_limit_price_is_rounded_to_the_tick_toward_the_passive_side():
    _, price, denial = check_filters(FILTERS, 1.0, market=False, price=100.019, buy=True)
    assert (price, denial) == (Decimal("100.01"), None)
    _, price, _ = check_filters(FILTERS, 1.0, market=False, price=100.011, buy=False)
    assert price == Decimal("100.02")


def test_limit_order_rests_and_is_found_by_client_order_id(venue, broker):
    report = broker.submit(_order(0.01), limit_price=49_000.004)
    assert report.status is OrderStatus.ACCEPTED
    assert venue.orders_with("qg-test-1")[0]["price"] == "49000"
    assert broker.lookup("qg-test-1").broker_order_id == report.broker_order_id
    assert broker.lookup("qg-never-sent") is None


def test_venue_error_codes_map_to_coded_rejections(venue, broker):
    sell = broker.submit(_order(1.0, Side.SELL))  # holds no BTC
    assert sell.status is OrderStatus.REJECTED and sell.reason.startswith("INSUFFICIENT_BALANCE")
    big = broker.submit(_order(5.0, cid="qg-test-big"))  # 250k USDT > 100k balance
    assert big.reason.startswith("INSUFFICIENT_BALANCE")
    venue.min_notional = 1_000.0  # the venue tightened a filter after exchangeInfo was read
    tightened = broker.submit(_order(0.01, cid="qg-test-tight"))
    assert tightened.status is OrderStatus.REJECTED and tightened.reason == "FILTER_FAILURE: Filter failure: NOTIONAL"


def test_clock_skew_is_resynchronised_once_then_the_order_goes_through(venue, broker):
    venue.skew_ms = 60_000  # the venue's clock runs a minute ahead: our timestamps fall outside recvWindow
    assert broker.positions() == {}  # -1021, then the adapter takes the server's clock and asks again
    report = broker.submit(_order(0.01))
    assert report.status is OrderStatus.FILLED
    assert len(venue.orders_with("qg-test-1")) == 1
    assert ("GET", "/api/v3/time") in venue.requests


def test_a_wrong_secret_fails_closed_with_one_line(venue):
    bad = BinanceBroker(["BTCUSDT"], keys=VenueKeys(KEY, "wrong"), base_url=venue.url, deadline=1.0)
    with pytest.raises(ExecutionError, match="-1022"):
        bad.account()


@pytest.mark.parametrize("fault", ["accept_then_500", "accept_then_1007", "accept_then_hang"])
def test_unknown_outcome_is_settled_by_lookup_without_a_second_order(venue, broker, fault):
    venue.fault(fault)
    report = broker.submit(_order(0.01))
    assert report.status is OrderStatus.FILLED
    assert len(venue.orders_with("qg-test-1")) == 1  # never resent


def test_unknown_outcome_that_lookup_cannot_settle_stays_in_flight(venue, broker):
    venue.fault("503")  # refused before booking, but the adapter cannot know that
    venue.fault("503", match="/api/v3/order", method="GET", times=10, after=1)  # the look-up before sending passes
    with pytest.raises(OrderOutcomeUnknown, match="never resent blind"):
        broker.submit(_order(0.01))
    assert venue.orders_with("qg-test-1") == []
    assert sum(1 for m, p in venue.requests if m == "POST") == 1


def test_market_order_expired_after_a_partial_fill_counts_its_trades_once(venue, broker):
    venue.market_fill_ratio = 0.5
    report = broker.submit(_order(0.01))
    assert report.status is OrderStatus.FILLED and report.filled_quantity == pytest.approx(0.005)
    looked = broker.lookup("qg-test-1")  # trades read back from myTrades, deduplicated by trade id
    assert looked.filled_quantity == pytest.approx(0.005)
    assert len(venue.trades) == 2


def test_planted_keys_appear_nowhere(venue, broker, caplog):
    venue.echo_keys = True
    caplog.set_level(logging.DEBUG)
    texts = []
    texts.append(repr(broker.submit(_order(1.0, Side.SELL))))
    texts.append(repr(broker.submit(_order(0.00005, cid="qg-x"))))
    bad = BinanceBroker(["BTCUSDT"], keys=VenueKeys(KEY, "wrong"), base_url=venue.url, deadline=1.0)
    with pytest.raises(ExecutionError) as err:
        bad.account()
    texts += [str(err.value), repr(bad.keys), caplog.text]
    assert "insufficient" in texts[0].lower() and "***" in texts[0]
    for text in texts:
        assert KEY not in text and SECRET not in text


def test_cancel_of_a_resting_order_and_of_one_a_fill_beat(venue, broker):
    broker.submit(_order(0.01), limit_price=49_000.0)
    canceled = broker.cancel("qg-test-1")
    assert canceled.status is OrderStatus.REJECTED and canceled.reason == "VENUE_CANCELED"
    broker.submit(_order(0.02, cid="qg-test-2"), limit_price=49_000.0)
    venue.fault("fill_first", method="DELETE")  # the fill arrives between our look-up and the cancel request
    raced = broker.cancel("qg-test-2")
    assert ("DELETE", "/api/v3/order") in venue.requests  # the venue answered -2011 (no longer open)
    assert (raced.status, raced.filled_quantity) == (OrderStatus.FILLED, pytest.approx(0.02))


def _gets(venue, path: str) -> int:
    return sum(1 for m, p in venue.requests if (m, p) == ("GET", path))


def test_a_bnb_commission_is_valued_at_the_venues_ticker_price_once_per_report(venue, broker):
    venue.commission_asset = "BNB"
    venue.balances["BNB"] = Decimal("1")
    venue.tickers["BNBUSDT"] = 612.34  # the public price the adapter reads (the venue charged at 600)
    venue.market_fill_ratio = 0.5  # two trades, each with a BNB commission
    report = broker.submit(_order(0.02))
    commissions = [Decimal(t["commission"]) for t in venue.trades]
    assert [t["commissionAsset"] for t in venue.trades] == ["BNB", "BNB"]
    assert commissions == [Decimal("0.0003125")] * 2  # 0.005 * 50000 * 0.075 % / 600 BNB, each
    assert (report.status, report.filled_quantity) == (OrderStatus.FILLED, 0.01)
    assert report.fee == pytest.approx(0.000625 * 612.34, rel=1e-12)  # 0.3827125 USDT
    assert _gets(venue, "/api/v3/ticker/price") == 1  # one read per report, for both trades
    assert broker.lookup("qg-test-1").fee == pytest.approx(0.3827125, rel=1e-12)
    assert _gets(venue, "/api/v3/ticker/price") == 2  # not cached across reports
    assert venue.balances["BNB"] == Decimal("0.999375") and venue.balances["USDT"] == Decimal("99500")
    assert broker.positions()["BTCUSDT"].quantity == report.filled_quantity  # the fee left the base alone


@pytest.mark.parametrize("missing", ["unlisted", "unavailable"])
def test_a_bnb_commission_that_cannot_be_valued_keeps_the_filled_order_in_flight(venue, broker, missing):
    venue.commission_asset = "BNB"
    venue.balances["BNB"] = Decimal("1")
    if missing == "unlisted":
        del venue.tickers["BNBUSDT"]  # the venue answers -1121 Invalid symbol.
    else:
        venue.fault("503", match="/api/v3/ticker/price", method="GET", times=100)
    with pytest.raises(OrderOutcomeUnknown) as err:
        broker.submit(_order(0.01))
    message = str(err.value)
    assert "order qg-test-1: commission 0.000625 BNB cannot be valued in USDT" in message
    assert ("code -1121: Invalid symbol." if missing == "unlisted" else "HTTP 503") in message
    assert "\n" not in message and KEY not in message and SECRET not in message
    (booked,) = venue.orders_with("qg-test-1")
    assert booked["status"] == "FILLED"  # filled at the venue: never reported refused
    with pytest.raises(OrderOutcomeUnknown):  # a retry looks it up and stays unknown, never resends
        broker.submit(_order(0.01))
    with pytest.raises(OrderOutcomeUnknown):
        broker.lookup("qg-test-1")
    assert sum(1 for m, _ in venue.requests if m == "POST") == 1
    venue.heal()
    venue.tickers["BNBUSDT"] = 600.0
    settled = broker.lookup("qg-test-1")
    assert (settled.status, settled.filled_quantity) == (OrderStatus.FILLED, 0.01)
    assert settled.fee == pytest.approx(0.000625 * 600.0, rel=1e-12)


def test_a_base_asset_commission_makes_the_filled_quantity_what_the_account_received(venue, broker):
    venue.commission_asset = "base"  # Binance's default: the fee comes out of the asset received
    bought = broker.submit(_order(0.01))
    (trade,) = venue.trades
    assert (trade["commission"], trade["commissionAsset"]) == ("0.00001000", "BTC")
    assert (bought.status, bought.filled_quantity) == (OrderStatus.FILLED, 0.00999)  # 0.01 - 0.00001
    assert bought.avg_price == pytest.approx(50_000.0) and bought.fee == pytest.approx(0.5, rel=1e-12)
    assert broker.positions()["BTCUSDT"].quantity == bought.filled_quantity == float(venue.balances["BTC"])
    assert broker.account().cash == 100_000 - 500  # quote spent = filled * avg + fee
    sold = broker.submit(_order(0.0099, Side.SELL, cid="qg-test-2"))  # a sell receives USDT: fee in USDT
    assert (sold.filled_quantity, sold.fee) == (0.0099, pytest.approx(0.0099 * 50_000 * 0.001, rel=1e-12))
    assert broker.positions()["BTCUSDT"].quantity == pytest.approx(0.00999 - 0.0099, rel=1e-9)


def test_without_enough_bnb_the_venue_charges_the_asset_received(venue, broker):
    venue.commission_asset = "BNB"  # no BNB balance
    report = broker.submit(_order(0.01))
    assert venue.trades[0]["commissionAsset"] == "BTC" and _gets(venue, "/api/v3/ticker/price") == 0
    assert report.filled_quantity == 0.00999 and report.fee == pytest.approx(0.5, rel=1e-12)
