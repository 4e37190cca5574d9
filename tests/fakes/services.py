"""Fake market-data services speaking each real wire format, serving canonical frames.

Each fake holds ``series[(symbol, timeframe)] -> canonical frame`` in *quantgate* terms (bar-open UTC
timestamps, daily equity bars at midnight UTC of the session date) and renders it the way the real
service would: Binance kline arrays with string prices, Polygon ``results``/``next_url`` pages with
millisecond timestamps (daily bars at midnight New York), Alpaca ``bars``/``next_page_token`` pages,
CoinGecko ``[[close_ms, o, h, l, c]]``, GeckoTerminal ``ohlcv_list`` in seconds, newest first.
"""

from __future__ import annotations

import pandas as pd

from pipeline.timeframes import bar_length
from tests.fakes.server import FakeService, Request, Response, json_body

_MS = 1_000_000


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // _MS)


def _parse_time(value: str) -> pd.Timestamp:
    if value.lstrip("-").isdigit():
        return pd.Timestamp(int(value), unit="ms", tz="UTC")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _binance_round(frame: pd.DataFrame) -> pd.DataFrame:
    """Prices as Binance has them: 8 decimals (so served strings parse back to exactly these floats)."""
    return frame.map(lambda v: float(f"{v:.8f}"))


class BinanceFake(FakeService):
    """``/api/v3/ping`` and ``/api/v3/klines``.

    Misbehaviours: ``ignore_start_time`` serves every page from the series' first bar (a server that
    ignores ``startTime``); ``duplicate`` sends the bar at that time twice.
    """

    api_key: str | None = None
    ignore_start_time: bool = False
    duplicate: pd.Timestamp | None = None

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str], pd.DataFrame] = {}

    def add(self, symbol: str, timeframe: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Serve ``frame`` (rounded to Binance precision, returned) for ``symbol``/``timeframe``."""
        frame = _binance_round(frame)
        self.series[(symbol, timeframe)] = frame
        return frame

    def error_body(self, status: int, message: str) -> bytes:
        codes = {429: -1003, 418: -1003, 401: -2015}
        return json_body({"code": codes.get(status, -1000), "msg": message})

    def handle(self, request: Request) -> Response:
        if request.path == "/api/v3/ping":
            return 200, {}, b"{}"
        if request.path != "/api/v3/klines":
            return 404, {}, self.error_body(404, "not found")
        key = request.headers.get("x-mbx-apikey")
        if self.api_key is not None and key is not None and key != self.api_key:
            return 401, {}, self.error_body(401, f"Invalid API-key {key}, IP, or permissions for action.")
        q = request.query
        frame = self.series.get((q.get("symbol", ""), q.get("interval", "")))
        if frame is None:
            return 400, {}, json_body({"code": -1121, "msg": "Invalid symbol."})
        limit = min(int(q.get("limit", 500)), 1000)
        lo = pd.Timestamp(int(q.get("startTime", 0)), unit="ms", tz="UTC")
        hi = pd.Timestamp(int(q["endTime"]), unit="ms", tz="UTC") if "endTime" in q else frame.index.max()
        if self.ignore_start_time:
            lo, hi = frame.index.min(), frame.index.max()
        part = frame.loc[(frame.index >= lo) & (frame.index <= hi)].iloc[:limit]
        if self.duplicate is not None and self.duplicate in part.index:
            part = pd.concat([part, part.loc[[self.duplicate]]]).sort_index(kind="stable")
        step = _ms(frame.index[0] + bar_length(q["interval"])) - _ms(frame.index[0])
        rows = [
            [
                _ms(ts),
                f"{r.open:.8f}",
                f"{r.high:.8f}",
                f"{r.low:.8f}",
                f"{r.close:.8f}",
                f"{r.volume:.8f}",
                _ms(ts) + step - 1,
                f"{r.volume * r.close:.8f}",
                100,
                f"{r.volume / 2:.8f}",
                f"{r.volume * r.close / 2:.8f}",
                "0",
            ]
            for ts, r in zip(part.index, part.itertuples(index=False), strict=True)
        ]
        return 200, {}, json_body(rows)


class PolygonFake(FakeService):
    """``/v2/aggs/ticker/{T}/range/{m}/{span}/{from}/{to}`` with cursor pagination.

    Misbehaviour: ``endless`` always sends a ``next_url`` back to the first page.
    """

    api_key = "polygon-test-key"
    page_size = 40
    endless = False

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str], pd.DataFrame] = {}

    def add(self, ticker: str, timeframe: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Serve ``frame`` for ``ticker`` at ``timeframe`` (e.g. ``1/day``)."""
        self.series[(ticker, timeframe)] = frame
        return frame

    def error_body(self, status: int, message: str) -> bytes:
        if status == 401:
            return json_body({"status": "ERROR", "request_id": "r1", "error": "Unknown API Key"})
        return json_body({"status": "ERROR", "request_id": "r1", "error": message})

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 9 or parts[:3] != ["v2", "aggs", "ticker"]:
            return 404, {}, json_body({"status": "NOT_FOUND", "message": "Not found"})
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}" and request.query.get("apiKey") != self.api_key:
            return 401, {}, self.error_body(401, "")
        ticker, mult, span, lo, hi = parts[3], parts[5], parts[6], parts[7], parts[8]
        tf = {"1/minute": "1m", "5/minute": "5m", "15/minute": "15m", "1/hour": "1h", "4/hour": "4h", "1/day": "1d"}
        frame = self.series.get((ticker, tf.get(f"{mult}/{span}", "?")))
        if frame is None:  # Polygon answers an unknown ticker with an empty OK result
            return 200, {}, json_body({"ticker": ticker, "queryCount": 0, "resultsCount": 0, "status": "OK"})
        stamps = frame.index
        if span == "day":  # real daily aggregates are stamped midnight New York
            stamps = stamps.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
        start, end = _parse_time(lo), _parse_time(hi)
        if len(hi) == 10:
            end = end + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
        mask = (stamps >= start) & (stamps <= end)
        rows = frame.loc[mask]
        rows_ts = stamps[mask]
        offset = int(request.query.get("cursor", 0))
        page = slice(offset, offset + self.page_size)
        results = [
            {"v": r.volume, "vw": (r.high + r.low) / 2, "o": r.open, "c": r.close, "h": r.high, "l": r.low,
             "t": _ms(ts), "n": 10}
            for ts, r in zip(rows_ts[page], rows.iloc[page].itertuples(index=False), strict=True)
        ]  # fmt: skip
        body = {
            "ticker": ticker,
            "queryCount": len(results),
            "resultsCount": len(results),
            "adjusted": True,
            "results": results,
            "status": "OK",
            "request_id": "r1",
            "count": len(results),
        }
        if self.endless:
            body["next_url"] = f"https://api.polygon.io/v2/aggs/ticker/{ticker}/range/{mult}/{span}/{lo}/{hi}?cursor=0"
        elif offset + self.page_size < len(rows):
            body["next_url"] = (
                f"https://api.polygon.io/v2/aggs/ticker/{ticker}/range/{mult}/{span}/{lo}/{hi}"
                f"?cursor={offset + self.page_size}"
            )
        return 200, {}, json_body(body)


class AlpacaFake(FakeService):
    """``/v2/stocks/bars`` and ``/v1beta3/crypto/us/bars`` with ``page_token`` pagination."""

    key_id = "alpaca-id"
    secret = "alpaca-secret"
    page_size = 40

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str], pd.DataFrame] = {}

    def add(self, symbol: str, timeframe: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Serve ``frame`` for the Alpaca symbol (``AAPL`` or ``BTC/USD``) and quantgate timeframe."""
        self.series[(symbol, timeframe)] = frame
        return frame

    def error_body(self, status: int, message: str) -> bytes:
        return json_body({"message": message})

    def handle(self, request: Request) -> Response:
        crypto = request.path == "/v1beta3/crypto/us/bars"
        if request.path != "/v2/stocks/bars" and not crypto:
            return 404, {}, json_body({"message": "Not Found"})
        if not crypto and (
            request.headers.get("apca-api-key-id") != self.key_id
            or request.headers.get("apca-api-secret-key") != self.secret
        ):
            return 401, {}, json_body({"message": "unauthorized."})
        q = request.query
        tf = {"1Min": "1m", "5Min": "5m", "15Min": "15m", "1Hour": "1h", "4Hour": "4h", "1Day": "1d"}[q["timeframe"]]
        symbol = q["symbols"]
        frame = self.series.get((symbol, tf))
        if frame is None:
            return 200, {}, json_body({"bars": {}, "next_page_token": None})
        stamps = frame.index
        if tf == "1d" and not crypto:
            stamps = stamps.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
        start, end = _parse_time(q["start"]), _parse_time(q["end"])
        mask = (stamps >= start) & (stamps <= end)
        rows, rows_ts = frame.loc[mask], stamps[mask]
        offset = int(q.get("page_token") or 0)
        page = slice(offset, offset + self.page_size)
        bars = [
            {"t": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": r.open, "h": r.high, "l": r.low, "c": r.close,
             "v": r.volume, "n": 10, "vw": (r.high + r.low) / 2}
            for ts, r in zip(rows_ts[page], rows.iloc[page].itertuples(index=False), strict=True)
        ]  # fmt: skip
        token = str(offset + self.page_size) if offset + self.page_size < len(rows) else None
        return 200, {}, json_body({"bars": {symbol: bars} if bars else {}, "next_page_token": token})


class CoinGeckoFake(FakeService):
    """``/coins/{id}/ohlc`` with CoinGecko's automatic granularity; timestamps are candle close."""

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str], pd.DataFrame] = {}

    def add(self, coin: str, candle: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Serve ``frame`` (bar-open stamps) as ``candle`` ("30m", "4h" or "4d") candles of ``coin``."""
        self.series[(coin, candle)] = frame
        return frame

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "coins" or parts[2] != "ohlc":
            return 404, {}, json_body({"error": "Not found"})
        days = request.query.get("days", "1")
        days_n = 100000 if days == "max" else int(days)
        candle = "30m" if days_n <= 2 else "4h" if days_n <= 30 else "4d"
        frame = self.series.get((parts[1], candle))
        if frame is None:
            return 404, {}, json_body({"error": "coin not found"})
        length = pd.Timedelta(candle.replace("m", "min"))
        now = pd.Timestamp.now(tz="UTC")
        close = frame.index + length
        mask = (close >= now - pd.Timedelta(days=days_n)) & (close <= now + length)
        rows = [
            [_ms(c), r.open, r.high, r.low, r.close]
            for c, r in zip(close[mask], frame.loc[mask].itertuples(index=False), strict=True)
        ]
        return 200, {}, json_body(rows)


class GeckoTerminalFake(FakeService):
    """``/networks/{net}/pools/{addr}/ohlcv/{day|hour|minute}``, newest first, ``before_timestamp`` paging.

    Misbehaviour: ``ignore_before`` always serves the newest page.
    """

    page_size = 50
    ignore_before = False

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str], pd.DataFrame] = {}

    def add(self, pool: str, timeframe: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Serve ``frame`` for ``network:address`` at quantgate ``timeframe``."""
        self.series[(pool, timeframe)] = frame
        return frame

    def error_body(self, status: int, message: str) -> bytes:
        return json_body({"errors": [{"status": str(status), "title": message}]})

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 6 or parts[0] != "networks" or parts[2] != "pools" or parts[4] != "ohlcv":
            return 404, {}, self.error_body(404, "Not Found")
        agg = int(request.query.get("aggregate", 1))
        tf = {("minute", 1): "1m", ("minute", 5): "5m", ("minute", 15): "15m", ("hour", 1): "1h", ("hour", 4): "4h",
              ("day", 1): "1d"}.get((parts[5], agg))  # fmt: skip
        frame = self.series.get((f"{parts[1]}:{parts[3]}", tf or "?"))
        if frame is None:
            return 404, {}, self.error_body(404, "Not Found")
        limit = min(int(request.query.get("limit", 100)), 1000, self.page_size)
        before = request.query.get("before_timestamp")
        part = frame
        if before is not None and not self.ignore_before:
            part = frame.loc[frame.index < pd.Timestamp(int(before), unit="s", tz="UTC")]
        part = part.iloc[::-1].iloc[:limit]
        rows = [
            [int(ts.value // 1_000_000_000), r.open, r.high, r.low, r.close, r.volume]
            for ts, r in zip(part.index, part.itertuples(index=False), strict=True)
        ]
        body = {
            "data": {"id": "x", "type": "ohlcv_request_response", "attributes": {"ohlcv_list": rows}},
            "meta": {"base": {"symbol": "WETH"}, "quote": {"symbol": "USDC"}},
        }
        return 200, {}, json_body(body)
