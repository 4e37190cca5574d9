"""A local stand-in for Polygon's live WebSocket feed (``websockets`` on 127.0.0.1, real wire protocol).

On connect it sends ``[{"ev":"status","status":"connected",...}]``; it answers ``{"action":"auth",
"params":KEY}`` with ``auth_success`` (or ``auth_failed`` and a close for a wrong key), answers
``{"action":"subscribe","params":"AM.AAPL,AM.MSFT"}`` with one ``success`` status per topic, then sends
the served minute bars of the subscribed tickers as ``AM`` aggregates, ``frame_size`` events per
frame, in time order. Scripting: ``duplicate`` sends every data frame twice, ``drop_after`` drops the
first connection with close code 1011 after that many data frames (the client reconnects and gets
everything again), ``close_when_done`` closes cleanly (1000) after the last frame instead of idling
like the real feed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pandas as pd
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.stubs import random_walk_bars

#: The fake's own connection logger, quiet below INFO (so tests can look for leaked keys in client logs).
_LOGGER = logging.getLogger("tests.fakes.polygon_ws")
_LOGGER.setLevel(logging.INFO)


def minute_bars(n: int = 30, *, start: str = "2024-03-04 14:30", seed: int = 5, price: float = 175.0) -> pd.DataFrame:
    """Deterministic 1m equity bars (seeded random walk) with whole-share volumes."""
    frame = random_walk_bars(n, start=start, freq="1min", seed=seed, price=price)
    frame["volume"] = frame["volume"].round()
    return frame


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def _status(status: str, message: str) -> dict[str, str]:
    return {"ev": "status", "status": status, "message": message}


class PolygonStreamFake:
    """Polygon's ``wss://socket.polygon.io/stocks`` on ``ws://127.0.0.1:PORT/stocks``."""

    api_key = "polygon-test-key"

    def __init__(self, frame_size: int = 5) -> None:
        self.frame_size = frame_size
        self.series: dict[str, pd.DataFrame] = {}
        self.duplicate = False
        self.drop_after: int | None = None
        self.close_when_done = True
        self.connections = 0
        self.paths: list[str] = []
        self.subscriptions: list[str] = []
        self.auth_failures = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def add(self, ticker: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Stream ``frame`` (canonical 1m bars) as ``AM`` aggregates of ``ticker``; returns it."""
        self.series[ticker] = frame
        return frame

    # -- protocol -------------------------------------------------------------------------------------
    def _events(self, topics: list[str]) -> list[dict[str, Any]]:
        events: list[tuple[int, dict[str, Any]]] = []
        for topic in topics:
            ev, _, ticker = topic.partition(".")
            frame = self.series.get(ticker)
            if ev != "AM" or frame is None:
                continue
            accumulated = 0.0
            for ts, r in zip(frame.index, frame.itertuples(index=False), strict=True):
                accumulated += r.volume
                start = _ms(ts)
                events.append(
                    (start, {"ev": "AM", "sym": ticker, "v": r.volume, "av": accumulated, "op": frame["open"].iloc[0],
                             "vw": (r.high + r.low) / 2, "o": r.open, "c": r.close, "h": r.high, "l": r.low,
                             "a": (r.high + r.low) / 2, "z": 100, "s": start, "e": start + 60_000})
                )  # fmt: skip
        events.sort(key=lambda item: item[0])
        return [e for _, e in events]

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        first = self.connections == 1
        self.paths.append(ws.request.path if ws.request else "")
        try:
            await ws.send(json.dumps([_status("connected", "Connected Successfully")]))
            auth = json.loads(await ws.recv())
            if auth.get("action") != "auth" or auth.get("params") != self.api_key:
                self.auth_failures += 1
                await ws.send(json.dumps([_status("auth_failed", "authentication failed")]))
                await ws.close()
                return
            await ws.send(json.dumps([_status("auth_success", "authenticated")]))
            subscribe = json.loads(await ws.recv())
            topics = [t.strip() for t in str(subscribe.get("params", "")).split(",") if t.strip()]
            self.subscriptions.extend(topics)
            await ws.send(json.dumps([_status("success", f"subscribed to: {t}") for t in topics]))
            events = self._events(topics)
            frames = [events[i : i + self.frame_size] for i in range(0, len(events), self.frame_size)]
            for i, frame in enumerate(frames):
                if first and self.drop_after is not None and i == self.drop_after:
                    await ws.close(code=1011, reason="internal error")
                    return
                for _ in range(2 if self.duplicate else 1):
                    await ws.send(json.dumps(frame))
            if self.close_when_done:
                await ws.close()
            else:
                await ws.wait_closed()
        except ConnectionClosed:
            return

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL (``ws://127.0.0.1:PORT``); the client appends ``/stocks``."""
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    def start(self) -> PolygonStreamFake:
        """Serve on an ephemeral port in a daemon thread with its own event loop."""
        ready = threading.Event()

        async def main() -> None:
            self._stopped = asyncio.Event()
            async with serve(self._handler, "127.0.0.1", 0, logger=_LOGGER) as server:
                self._server = server
                ready.set()
                await self._stopped.wait()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(main())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Polygon WebSocket fake did not start")
        return self

    def stop(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
