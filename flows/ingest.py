"""Market-data flows: historical backfill, scheduled gap filling, and keeping recent bars current.

- :func:`ingest_flow`: backfill a window (chunked, idempotent, resumes after a kill).
- :func:`gapfill_flow`: detect holes in the primary source, then fill them from secondary sources.
- :func:`collect_flow`: keeps recent bars current. ``mode="poll"`` ingests the last ``lookback_bars`` bars
  of each symbol over REST (the newest, still-forming chunk is never recorded complete, so it is fetched
  every run) and records the quality verdicts of the closed ones (the trading cycle then only compares
  hashes); ``mode="stream"`` (Polygon only) listens to its live WebSocket feed for a bounded run
  (``max_messages`` / ``max_seconds``) and upserts every batch of bars as it arrives.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from prefect import flow

from pipeline.timeframes import bar_length
from tasks.ingest import detect_gaps, fill_gaps_task, ingest_window, record_verdicts, stream_polygon


@flow(name="ingest")
def ingest_flow(
    source: str,
    symbol: str,
    timeframe: str,
    start: str,
    end: str,
    chunk_days: float | None = None,
    db_url: str | None = None,
) -> dict:
    """Backfill ``start..end`` of one series from one source."""
    return ingest_window(source, symbol, timeframe, start, end, chunk_days=chunk_days, db_url=db_url)


@flow(name="gapfill")
def gapfill_flow(
    symbol: str,
    timeframe: str,
    primary: str,
    fallbacks: list[str],
    lookback_days: float = 30.0,
    db_url: str | None = None,
) -> list[dict]:
    """Fill holes of ``primary`` over the last ``lookback_days`` from each fallback in turn."""
    end = pd.Timestamp.now(tz="UTC").floor(bar_length(timeframe))  # exclusive: the forming bar is left out
    start = end - pd.Timedelta(days=lookback_days)
    reports: list[dict] = []
    sources = [primary]
    for fallback in fallbacks:
        gaps = detect_gaps(
            symbol, timeframe, sources=sources, start=start.isoformat(), end=end.isoformat(), db_url=db_url
        )
        if not gaps:
            break
        reports.append(
            fill_gaps_task(symbol, timeframe, fallback, sources=sources, start=start.isoformat(), end=end.isoformat(),
                           db_url=db_url)
        )  # fmt: skip
        sources = [*sources, fallback]
    return reports


@flow(name="collect")
def collect_flow(
    source: str,
    symbols: list[str],
    timeframe: str,
    lookback_bars: int = 48,
    db_url: str | None = None,
    mode: Literal["poll", "stream"] = "poll",
    max_messages: int | None = None,
    max_seconds: float | None = 300.0,
) -> list[dict]:
    """Keep recent bars of ``symbols`` current: poll ``source``'s REST API, or stream Polygon's WebSocket.

    Streaming stores 1m bars as they arrive; a coarser ``timeframe`` is stored only for bars whose
    every minute arrived during the run. ``max_messages``/``max_seconds`` bound a streaming run.
    """
    if mode == "stream":
        if source != "polygon":
            raise ValueError(f"collect: stream mode is only available for polygon, not {source!r}")
        return stream_polygon(symbols, timeframe, max_messages=max_messages, max_seconds=max_seconds, db_url=db_url)
    if mode != "poll":
        raise ValueError(f"collect: mode must be 'poll' or 'stream', not {mode!r}")
    length = bar_length(timeframe)
    end = pd.Timestamp.now(tz="UTC").floor(length) + length  # exclusive: the forming bar is included
    start = end - lookback_bars * length
    reports = []
    for symbol in symbols:
        report = ingest_window(source, symbol, timeframe, start.isoformat(), end.isoformat(), db_url=db_url)
        report["quality_validated"] = record_verdicts(source, symbol, timeframe, start.isoformat(), db_url=db_url)
        reports.append(report)
    return reports
