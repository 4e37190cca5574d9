"""Live Polygon bars through the official ``polygon-api-client`` WebSocket client, for the collector.

:func:`stream_bars` connects ``polygon.WebSocketClient`` to ``QUANTGATE_POLYGON_WS_URL`` (default
``wss://socket.polygon.io``; the client appends the market, e.g. ``/stocks``), authenticates with
``POLYGON_API_KEY``, subscribes to per-minute aggregates (``AM.<SYMBOL>``) of US stocks, turns every
received frame into canonical 1-minute bars (``ts`` = the aggregate's start ``s``, UTC bar open) and
hands them, per symbol, to a callback. A coarser timeframe is built in memory with
:func:`pipeline.sources.symbols.resample` and handed over only once every minute of a bar has arrived
in this run, so a hole is never hidden inside a coarser bar (streaming is meant for ``1m``; partial
coarse bars are left to the REST poll or gap filling).

A run is bounded: it ends after ``max_messages`` aggregates (the frame that crosses the bound is kept
whole), after ``max_seconds``, or when the server closes the connection cleanly. Reconnecting after a
dropped connection (and resubscribing) is the client's own (``max_reconnects``); messages re-sent after
a reconnect are harmless because the store's upsert is idempotent. A bad key or a connection that
keeps failing ends in one :class:`~pipeline.errors.SourceError` line naming the source and symbols;
the key is never logged nor put into a message. Per-second aggregates (``A.*``) and crypto (``XA.*``)
are not streamed: quantgate's smallest timeframe is 1m and Polygon is its equity source.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import pandas as pd

from pipeline.errors import SourceError
from pipeline.sources import symbols as symbol_map
from pipeline.sources._common import env_key, frame_from_rows, redact
from pipeline.sources.polygon import polygon_ticker
from pipeline.timeframes import bar_length

DEFAULT_WS_URL = "wss://socket.polygon.io"
WS_URL_VARIABLE = "QUANTGATE_POLYGON_WS_URL"
MARKET = "stocks"
MINUTE = pd.Timedelta(minutes=1)

#: The connection's logger, capped at INFO: websockets logs every frame at DEBUG, the auth frame included.
_WS_LOGGER = logging.getLogger("quantgate.polygon.websocket")
_WS_LOGGER.setLevel(logging.INFO)

#: Called with ``(symbol, bars)`` for every batch of new canonical bars of one symbol.
BatchCallback = Callable[[str, pd.DataFrame], None]
EndReason = Literal["max_messages", "max_seconds", "closed"]


@dataclass
class StreamReport:
    """What one bounded streaming run received and handed over."""

    symbols: list[str]
    timeframe: str
    messages: int = 0
    bars: int = 0
    batches: int = 0
    ended: EndReason = "closed"

    def to_dict(self) -> dict:
        """A JSON-safe summary."""
        return asdict(self)


def ws_endpoint() -> tuple[str, bool]:
    """``(feed, secure)`` for ``WebSocketClient`` from ``QUANTGATE_POLYGON_WS_URL``.

    The client builds ``ws[s]://{feed}/{market}``, so the feed is the URL's host (and any path prefix).
    """
    url = os.environ.get(WS_URL_VARIABLE, "").strip() or DEFAULT_WS_URL
    parts = urlsplit(url.rstrip("/"))
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise SourceError(redact(f"polygon: {WS_URL_VARIABLE} must be a ws:// or wss:// URL, got {url!r}"))
    return parts.netloc + parts.path, parts.scheme == "wss"


def topics(symbols: list[str]) -> dict[str, str]:
    """Per-minute aggregate topics (``AM.AAPL``) mapped back to quantgate symbols."""
    return {f"AM.{polygon_ticker(s, 'equity')}": s for s in symbols}


def bars_from_aggregates(aggregates: list[Any]) -> dict[str, pd.DataFrame]:
    """Canonical 1m bars per Polygon ticker from parsed ``AM`` aggregates (``EquityAgg``).

    Raises ValueError/TypeError on values that are not numbers.
    """
    rows: dict[str, list[tuple]] = {}
    for agg in aggregates:
        if getattr(agg, "event_type", None) != "AM" or agg.symbol is None or agg.start_timestamp is None:
            continue
        rows.setdefault(agg.symbol, []).append(
            (int(agg.start_timestamp), agg.open, agg.high, agg.low, agg.close, agg.volume)
        )
    return {ticker: frame_from_rows(r, unit="ms") for ticker, r in rows.items()}


class _Resampler:
    """Buffers 1m bars of one symbol and releases ``timeframe`` bars once all their minutes arrived."""

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self.length = bar_length(timeframe)
        self.needed = int(self.length / MINUTE)
        self.minutes = frame_from_rows([])

    def push(self, bars: pd.DataFrame) -> pd.DataFrame:
        if self.needed == 1:
            return bars
        merged = pd.concat([self.minutes, bars])
        self.minutes = merged[~merged.index.duplicated(keep="last")].sort_index()
        windows = self.minutes.index.floor(self.length)
        counts = pd.Series(1, index=windows).groupby(level=0).sum()
        complete = counts.index[counts.to_numpy() >= self.needed]
        if len(complete) == 0:
            return frame_from_rows([])
        done = windows.isin(complete)
        out = symbol_map.resample(self.minutes.loc[done], self.timeframe, complete_only=True)
        self.minutes = self.minutes.loc[~done]
        return out


class _CallbackFailed(Exception):  # carries the callback's own error past the client-error handlers
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _run(coroutine_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, on a fresh thread when this one already has an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def stream_bars(
    symbols: list[str],
    on_batch: BatchCallback,
    *,
    timeframe: str = "1m",
    max_messages: int | None = None,
    max_seconds: float | None = 300.0,
    max_reconnects: int = 5,
) -> StreamReport:
    """Stream live per-minute aggregates of ``symbols`` from Polygon and hand canonical bars to ``on_batch``.

    Parameters
    ----------
    symbols
        US stock tickers in quantgate notation (``AAPL``).
    on_batch
        Called with ``(symbol, bars)`` for each received frame's new bars of one symbol (canonical,
        ``ts`` = UTC bar open); it runs inside the receive loop, so keep it short (an upsert).
    timeframe
        ``1m`` (native), or a coarser timeframe built from complete minutes only.
    max_messages
        End after at least this many aggregates were received (None: no bound).
    max_seconds
        End after this many seconds (None: no bound; give one of the bounds for a flow run).
    max_reconnects
        Reconnects the client may make after dropped connections before giving up.

    Returns
    -------
    StreamReport
        Aggregates received, bars handed over, batches, and why the run ended.

    Raises
    ------
    SourceError
        No key, a rejected key, a connection that could not be (re)established, or a malformed message.
    """
    if not symbols:
        raise SourceError("polygon: stream: no symbols given")
    symbol_map.check_timeframe("polygon", timeframe)
    if max_messages is None and max_seconds is None:
        raise SourceError("polygon: stream: give max_messages or max_seconds so the run ends")
    label = f"polygon: stream {','.join(symbols)}"
    key = env_key("POLYGON_API_KEY")
    if key is None:
        raise SourceError(f"{label}: POLYGON_API_KEY is not set")
    feed, secure = ws_endpoint()
    wanted = topics(symbols)
    by_ticker = {topic.split(".", 1)[1]: symbol for topic, symbol in wanted.items()}
    resamplers = {symbol: _Resampler(timeframe) for symbol in symbols}
    report = StreamReport(list(symbols), timeframe)

    def fail(reason: str) -> SourceError:
        return SourceError(redact(f"{label}: {reason}", [key]))

    async def main() -> None:
        from polygon import WebSocketClient
        from polygon.exceptions import AuthError
        from websockets.exceptions import InvalidHandshake, WebSocketException

        client = WebSocketClient(
            api_key=key,
            feed=feed,
            market=MARKET,
            secure=secure,
            subscriptions=list(wanted),
            max_reconnects=max_reconnects,
        )
        done = asyncio.Event()

        async def processor(messages: list[Any]) -> None:
            if done.is_set():  # frames already buffered when the bound was reached
                return
            try:
                frames = bars_from_aggregates(messages)
            except (TypeError, ValueError) as exc:
                raise fail(f"malformed aggregate message ({exc.__class__.__name__})") from None
            report.messages += sum(1 for m in messages if getattr(m, "event_type", None) == "AM")
            for ticker, frame in frames.items():
                symbol = by_ticker.get(ticker)
                if symbol is None:
                    continue
                bars = resamplers[symbol].push(frame)
                if not bars.empty:
                    try:
                        on_batch(symbol, bars)
                    except Exception as exc:  # re-raised unchanged below, not as a client error
                        raise _CallbackFailed(exc) from exc
                    report.bars += len(bars)
                    report.batches += 1
            if max_messages is not None and report.messages >= max_messages and not done.is_set():
                done.set()
                report.ended = "max_messages"
                await client.close()

        try:
            await asyncio.wait_for(client.connect(processor, open_timeout=10, logger=_WS_LOGGER), timeout=max_seconds)
        except _CallbackFailed as exc:
            raise exc.error from exc.error.__cause__
        except TimeoutError:
            report.ended = "max_seconds"
            if client.websocket is None and not report.messages:  # never connected
                url = f"{'wss' if secure else 'ws'}://{feed}/{MARKET}"
                raise fail(f"no connection to {url} within {max_seconds}s") from None
        except AuthError as exc:
            raise fail(f"authentication failed ({exc})") from None
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise fail(f"malformed message ({exc.__class__.__name__})") from None
        except (InvalidHandshake, WebSocketException, OSError) as exc:
            raise fail(f"connection failed ({exc.__class__.__name__}: {exc})") from None
        finally:
            if client.websocket is not None:
                await client.close()

    _run(main)
    return report


__all__ = [
    "DEFAULT_WS_URL",
    "WS_URL_VARIABLE",
    "BatchCallback",
    "StreamReport",
    "bars_from_aggregates",
    "stream_bars",
    "topics",
    "ws_endpoint",
]
