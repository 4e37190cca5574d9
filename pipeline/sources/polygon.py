"""Polygon aggregates through ``polygon-api-client`` (``RESTClient``), paginated via ``next_url``.

The client's own urllib3 retries are off (they honour any Retry-After, however long): its pool is
wrapped so every request counts against the page cap, is bounded by the deadlines and body cap, and
429/5xx/timeouts/resets are retried by :func:`pipeline.sources._common.retrying`. A JSON decoder
that refuses garbage is passed in as ``custom_json`` so a malformed page cannot be mistaken for the
end of the data (the client otherwise treats it as "no results").
Daily equity bars (stamped midnight New York) are moved to midnight UTC of their session date.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import (
    PageCounter,
    Transient,
    clip,
    env_key,
    fail,
    frame_from_rows,
    http_timeout,
    redact,
    request_budget,
    retrying,
)
from pipeline.sources._http import raise_for_transient, read_body
from pipeline.sources.base import BarSource, register_source

POLYGON_SPANS: dict[str, tuple[int, str]] = {
    "1m": (1, "minute"),
    "5m": (5, "minute"),
    "15m": (15, "minute"),
    "1h": (1, "hour"),
    "4h": (4, "hour"),
    "1d": (1, "day"),
}


def polygon_ticker(symbol: str, asset_class: str = "equity") -> str:
    """Polygon ticker: ``AAPL`` for stocks, ``X:BTCUSD`` for crypto pairs."""
    if asset_class == "crypto" and not symbol.upper().startswith("X:"):
        pair = symbols.split_pair(symbol)
        quote = "USD" if pair.quote in ("USDT", "USDC", "BUSD", "FDUSD") else pair.quote
        return f"X:{pair.base}{quote}"
    return symbol.upper()


def polygon_span(timeframe: str) -> tuple[int, str]:
    """Polygon ``(multiplier, timespan)``."""
    return POLYGON_SPANS[timeframe]


class MalformedPayload(Exception):  # deliberately not a ValueError: the client swallows those
    """A response body that is not the JSON it should be."""


class _StrictJson:
    """``json`` look-alike for ``RESTClient(custom_json=...)`` that raises instead of returning []."""

    @staticmethod
    def loads(text: str | bytes) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise MalformedPayload(f"response is not JSON ({exc.msg} at char {exc.pos})") from None

    dumps = staticmethod(json.dumps)


class _BoundedPool:
    """The client's urllib3 pool with quantgate's bounds: page cap, deadlines, body cap, our own retries.

    Every request counts against ``QUANTGATE_MAX_PAGES``; its read timeout shrinks to the time left; the
    body is read in chunks and abandoned at the request deadline or the size cap; 429 and 5xx become
    :class:`Transient` here (the client's own retries, which honour any Retry-After, are switched off).
    """

    def __init__(self, pool, pages: PageCounter) -> None:
        self._pool = pool
        self._pages = pages

    def request(self, method: str, url: str, **kwargs):
        import urllib3

        self._pages.tick()
        budget = request_budget()
        until = time.monotonic() + budget
        kwargs["timeout"] = urllib3.Timeout(connect=min(10.0, http_timeout(), budget), read=min(http_timeout(), budget))
        kwargs["retries"] = False
        kwargs["preload_content"] = False
        try:
            response = self._pool.request(method, url, **kwargs)
            body = read_body(response, until, budget)
            response.release_conn()
        except urllib3.exceptions.TimeoutError:
            raise Transient("timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused/reset, truncated body
            raise Transient(exc.__class__.__name__) from None
        raise_for_transient(response.status, {k.lower(): v for k, v in response.headers.items()})
        return _Answer(response.status, response.headers, body)

    def __getattr__(self, name: str):
        return getattr(self._pool, name)


class _Answer:
    """What the client reads from a response: status, headers and the whole body."""

    def __init__(self, status: int, headers, data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


@register_source
class PolygonSource(BarSource):
    """Stock (``AAPL``) and crypto (``X:BTCUSD``) aggregates from Polygon."""

    name = "polygon"
    asset_class = "equity"
    default_url = "https://api.polygon.io"
    url_variable = "QUANTGATE_POLYGON_URL"
    key_variables = ("POLYGON_API_KEY",)
    listing_rank = 10

    def _client(self):
        from polygon import RESTClient

        key = env_key("POLYGON_API_KEY")
        if key is None:
            return None
        return RESTClient(
            api_key=key,
            base=self.base_url(),
            connect_timeout=min(10.0, http_timeout()),
            read_timeout=http_timeout(),
            retries=0,
            custom_json=_StrictJson,
        )

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        client = self._client()
        if client is None:
            raise fail(self.name, symbol, start, end, "POLYGON_API_KEY is not set")
        try:
            ticker = polygon_ticker(symbol, self.asset_class)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        multiplier, span = polygon_span(timeframe)

        pool = client.client

        def once() -> pd.DataFrame:
            client.client = _BoundedPool(pool, PageCounter())  # a fresh page count per attempt
            return self._fetch_once(client, ticker, multiplier, span, symbol, timeframe, start, end)

        # In a worker thread: the caller is released at the request deadline even if headers trickle.
        return retrying(once, source=self.name, symbol=symbol, start=start, end=end, in_thread=True)

    def _fetch_once(
        self,
        client,
        ticker: str,
        multiplier: int,
        span: str,
        symbol: str,
        timeframe: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
    ) -> pd.DataFrame:
        import urllib3
        from polygon.exceptions import AuthError, BadResponse

        # Daily bars are stamped midnight New York: widen the request so they are not cut off.
        last = end - pd.Timedelta(milliseconds=1)  # the API's end is inclusive, ours is not
        lo, hi = (start - pd.Timedelta(days=1), end + pd.Timedelta(days=1)) if timeframe == "1d" else (start, last)
        try:
            aggs = list(
                client.list_aggs(
                    ticker,
                    multiplier,
                    span,
                    lo.to_pydatetime(),
                    hi.to_pydatetime(),
                    adjusted=True,
                    sort="asc",
                    limit=50000,
                )
            )
        except MalformedPayload as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload: {exc}") from None
        except (AuthError, BadResponse) as exc:
            raise fail(self.name, symbol, start, end, _bad_response(exc)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Transient(redact(exc.__class__.__name__, [client.API_KEY])) from None
        try:
            rows = [(int(a.timestamp), a.open, a.high, a.low, a.close, a.volume) for a in aggs]
        except (TypeError, ValueError) as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload ({exc.__class__.__name__})") from None
        frame = frame_from_rows(rows, unit="ms")  # a Permanent here (e.g. a duplicate bar) becomes a SourceError
        if timeframe == "1d" and self.asset_class == "equity":
            frame = symbols.daily_to_session_date(frame)
        return clip(frame, start, end)


def _bad_response(exc: Exception) -> str:
    text = str(exc)
    try:
        body = json.loads(text)
    except ValueError:
        return f"bad response: {text[:120]}"
    if not isinstance(body, dict):
        return f"bad response: {text[:120]}"
    status = body.get("status", "ERROR")
    message = body.get("error") or body.get("message") or ""
    if status == "NOT_FOUND":
        return f"unknown symbol ({message})"
    return f"{status}: {message}"
