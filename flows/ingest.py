"""Market-data flows: historical backfill, scheduled gap filling, and keeping recent bars current.

- :func:`ingest_flow`: backfill a window (chunked, idempotent, resumes after a kill).
- :func:`gapfill_flow`: detect holes in the primary source, then fill them from secondary sources.
- :func:`collect_flow`: polling REST collector; each run ingests the last ``lookback_bars`` bars of each
  symbol (the newest, still-forming chunk is never recorded complete, so it is fetched every run).
"""

from __future__ import annotations

import pandas as pd
from prefect import flow

from pipeline.timeframes import bar_length
from tasks.ingest import detect_gaps, fill_gaps_task, ingest_window


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
    end = pd.Timestamp.now(tz="UTC").floor(bar_length(timeframe)) - bar_length(timeframe)
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
) -> list[dict]:
    """Keep recent bars of ``symbols`` current by polling ``source``'s REST API."""
    length = bar_length(timeframe)
    end = pd.Timestamp.now(tz="UTC").floor(length)
    start = end - lookback_bars * length
    return [
        ingest_window(source, symbol, timeframe, start.isoformat(), end.isoformat(), db_url=db_url)
        for symbol in symbols
    ]
