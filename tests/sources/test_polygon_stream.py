"""Live Polygon bars through the official WebSocketClient against a local fake of Polygon's feed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pandas as pd
import pytest

from pipeline.errors import SourceError
from pipeline.sources import symbols
from pipeline.sources.polygon_stream import stream_bars, ws_endpoint
from pipeline.store import BarStore
from tests.fakes.fixtures import punch
from tests.fakes.polygon_ws import PolygonStreamFake, minute_bars


@pytest.fixture
def polygon_ws(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[PolygonStreamFake]:
    """The Polygon WebSocket fake at ``QUANTGATE_POLYGON_WS_URL`` with ``POLYGON_API_KEY`` set to its key."""
    fake = PolygonStreamFake().start()
    monkeypatch.setenv("QUANTGATE_POLYGON_WS_URL", fake.url)
    monkeypatch.setenv("POLYGON_API_KEY", fake.api_key)
    yield fake
    fake.stop()


def _store_into(store: BarStore, timeframe: str = "1m"):
    def upsert(symbol: str, bars: pd.DataFrame) -> None:
        store.upsert(bars, source="polygon", symbol=symbol, timeframe=timeframe)

    return upsert


def test_ws_endpoint_when_unset_is_the_real_polygon_socket(monkeypatch):
    monkeypatch.delenv("QUANTGATE_POLYGON_WS_URL", raising=False)
    assert ws_endpoint() == ("socket.polygon.io", True)
    monkeypatch.setenv("QUANTGATE_POLYGON_WS_URL", "ws://127.0.0.1:8765/")
    assert ws_endpoint() == ("127.0.0.1:8765", False)


def test_stream_bars_when_messages_repeat_and_the_connection_drops_stores_each_bar_once(polygon_ws):
    aapl = polygon_ws.add("AAPL", minute_bars(30, seed=5, price=175.0))
    msft = polygon_ws.add("MSFT", minute_bars(30, seed=6, price=410.0))
    polygon_ws.duplicate = True
    polygon_ws.drop_after = 4  # the client reconnects, resubscribes and receives everything again
    store = BarStore()

    report = stream_bars(["AAPL", "MSFT"], _store_into(store), max_seconds=20)

    assert polygon_ws.connections == 2 and polygon_ws.paths == ["/stocks", "/stocks"]
    assert sorted(set(polygon_ws.subscriptions)) == ["AM.AAPL", "AM.MSFT"]
    assert report.ended == "closed" and report.messages == 2 * (4 * 5) + 2 * 60
    for symbol, served in (("AAPL", aapl), ("MSFT", msft)):
        stored = BarStore().load(symbol, "1m").drop(columns="source")
        pd.testing.assert_frame_equal(stored, served, check_freq=False)

    # a rerun of the whole stream (every frame still sent twice) changes nothing
    rerun = BarStore()
    counts = []
    polygon_ws.drop_after = None
    stream_bars(["AAPL"], lambda s, b: counts.append(rerun.upsert(b, source="polygon", symbol=s, timeframe="1m")),
                max_seconds=20)  # fmt: skip
    assert sum(c.inserted + c.updated for c in counts) == 0
    assert sum(c.unchanged for c in counts) == 2 * 30
    assert len(BarStore().load("AAPL", "1m")) == 30


def test_stream_bars_when_the_key_is_wrong_fails_in_one_line_naming_the_source_not_the_key(polygon_ws, monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEY", "wrong-secret-key-42")
    polygon_ws.add("AAPL", minute_bars(10))
    with pytest.raises(SourceError) as err:
        stream_bars(["AAPL"], lambda s, b: None, max_seconds=10)
    message = str(err.value)
    assert message.startswith("polygon: stream AAPL: authentication failed")
    assert "\n" not in message and "wrong-secret-key-42" not in message
    assert polygon_ws.auth_failures == 1


def test_stream_bars_when_debug_logging_is_on_never_logs_the_key(polygon_ws, caplog):
    polygon_ws.add("AAPL", minute_bars(10))
    caplog.set_level(logging.DEBUG)
    stream_bars(["AAPL"], lambda s, b: None, max_seconds=10)
    assert caplog.records and polygon_ws.api_key not in caplog.text


def test_stream_bars_when_no_key_is_set_fails_before_connecting(polygon_ws, monkeypatch):
    monkeypatch.delenv("POLYGON_API_KEY")
    with pytest.raises(SourceError, match=r"^polygon: stream AAPL: POLYGON_API_KEY is not set$"):
        stream_bars(["AAPL"], lambda s, b: None, max_seconds=5)
    assert polygon_ws.connections == 0


def test_stream_bars_when_the_feed_never_ends_stops_after_max_messages(polygon_ws):
    served = polygon_ws.add("AAPL", minute_bars(30))
    polygon_ws.close_when_done = False
    got: list[pd.DataFrame] = []

    report = stream_bars(["AAPL"], lambda s, b: got.append(b), max_messages=10, max_seconds=20)

    assert report.ended == "max_messages" and report.messages == 10 and report.batches == 2
    pd.testing.assert_frame_equal(pd.concat(got), served.iloc[:10], check_freq=False)


def test_stream_bars_when_nothing_arrives_ends_after_max_seconds_with_no_bars(polygon_ws):
    polygon_ws.close_when_done = False  # subscribed to a ticker the feed never sends
    report = stream_bars(["NOPE"], lambda s, b: pytest.fail("no bars expected"), max_seconds=1.5)
    assert (report.ended, report.messages, report.bars) == ("max_seconds", 0, 0)


def test_stream_bars_when_nothing_listens_fails_in_one_line(net_env, monkeypatch):
    fake = PolygonStreamFake().start()
    url = fake.url
    fake.stop()  # the port is closed now
    monkeypatch.setenv("QUANTGATE_POLYGON_WS_URL", url)
    monkeypatch.setenv("POLYGON_API_KEY", "a-key-that-stays-secret")
    with pytest.raises(SourceError, match=r"^polygon: stream AAPL: no connection to ws://127\.0\.0\.1:\d+/stocks"):
        stream_bars(["AAPL"], lambda s, b: None, max_seconds=1.0)


def test_stream_bars_when_the_callback_fails_raises_its_error_unchanged(polygon_ws):
    polygon_ws.add("AAPL", minute_bars(10))

    def broken(symbol: str, bars: pd.DataFrame) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match=r"^disk full$"):
        stream_bars(["AAPL"], broken, max_seconds=10)


def test_stream_bars_when_a_coarser_timeframe_is_asked_hands_over_only_complete_bars(polygon_ws):
    minutes = minute_bars(20, start="2024-03-04 14:30")
    served = polygon_ws.add("AAPL", punch(minutes, ("2024-03-04 14:37", "2024-03-04 14:37")))
    got: list[pd.DataFrame] = []

    stream_bars(["AAPL"], lambda s, b: got.append(b), timeframe="5m", max_seconds=20)

    expected = symbols.resample(served, "5m")  # complete windows only: 14:35 lost a minute
    assert list(expected.index.strftime("%H:%M")) == ["14:30", "14:40", "14:45"]
    pd.testing.assert_frame_equal(pd.concat(got), expected, check_freq=False)


@pytest.mark.slow
def test_collect_flow_when_streaming_stores_the_streamed_bars_once(prefect_harness, polygon_ws, qg_home):
    from flows.ingest import collect_flow

    served = polygon_ws.add("AAPL", minute_bars(25))
    polygon_ws.duplicate = True

    first = collect_flow("polygon", ["AAPL"], "1m", mode="stream", max_seconds=20)
    second = collect_flow("polygon", ["AAPL"], "1m", mode="stream", max_seconds=20)

    assert [(r["symbol"], r["inserted"], r["updated"]) for r in first] == [("AAPL", 25, 0)]
    assert [(r["inserted"], r["updated"], r["unchanged"]) for r in second] == [(0, 0, 50)]
    stored = BarStore().load("AAPL", "1m")
    assert set(stored["source"]) == {"polygon"}
    pd.testing.assert_frame_equal(stored.drop(columns="source"), served, check_freq=False)
