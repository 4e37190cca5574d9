"""Polygon aggregates through ``polygon-api-client`` (``RESTClient``), paginated via ``next_url``.

The client's own urllib3 retry policy handles 429 (honouring Retry-After), 5xx, timeouts and
connection resets, bounded by ``QUANTGATE_RETRY_ATTEMPTS``; whatever escapes it is turned into one
clean line here. A JSON decoder that refuses garbage is passed in as ``custom_json`` so a malformed
page cannot be mistaken for the end of the data (the client otherwise treats it as "no results").
Daily equity bars (stamped midnight New York) are moved to midnight UTC of their session date.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import (
    Transient,
    base_url,
    clip,
    env_key,
    fail,
    frame_from_rows,
    http_timeout,
    redact,
    retry_attempts,
    retrying,
)
from pipeline.sources.base import BarSource


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


class PolygonSource(BarSource):
    """Stock (``AAPL``) and crypto (``X:BTCUSD``) aggregates from Polygon."""

    name = "polygon"
    asset_class = "equity"

    def _client(self):
        from polygon import RESTClient

        key = env_key("POLYGON_API_KEY")
        if key is None:
            return None
        return RESTClient(
            api_key=key,
            base=base_url("polygon"),
            connect_timeout=min(10.0, http_timeout()),
            read_timeout=http_timeout(),
            retries=retry_attempts() - 1,
            custom_json=_StrictJson,
        )

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        client = self._client()
        if client is None:
            raise fail(self.name, symbol, start, end, "POLYGON_API_KEY is not set")
        try:
            ticker = symbols.polygon_ticker(symbol, self.asset_class)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        multiplier, span = symbols.polygon_span(timeframe)

        def once() -> pd.DataFrame:
            return self._fetch_once(client, ticker, multiplier, span, symbol, timeframe, start, end)

        # The client retries inside; one outer attempt turns anything left into one clean line.
        return retrying(once, source=self.name, symbol=symbol, start=start, end=end)

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
        except urllib3.exceptions.MaxRetryError as exc:
            reason = redact(f"{exc.reason.__class__.__name__}: {exc.reason}", [client.API_KEY])
            raise fail(self.name, symbol, start, end, f"gave up after retries ({reason})") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Transient(exc.__class__.__name__) from None
        try:
            rows = [(int(a.timestamp), a.open, a.high, a.low, a.close, a.volume) for a in aggs]
            frame = frame_from_rows(rows, unit="ms")
        except (TypeError, ValueError) as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload ({exc.__class__.__name__})") from None
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


SOURCE = PolygonSource
