"""Thin Prefect tasks around market-data ingestion and gap filling (one ``pipeline`` call each).

Sources already retry transient failures (bounded, honouring Retry-After); the task retries here
cover what is left once a source gives up (a longer outage), and are cheap because ingestion resumes
from the last completed chunk. The Polygon stream task has no task retries: the WebSocket client
reconnects by itself, and a bounded run that ends early is simply followed by the next scheduled one.
"""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger, task

from pipeline.errors import DataQualityError
from pipeline.gaps import GapFillReport, fill_gaps, find_gaps
from pipeline.ingest import IngestReport, ingest
from pipeline.quality.verdicts import check_ingested
from pipeline.sources import source_asset_class
from pipeline.sources.polygon_stream import stream_bars
from pipeline.store import BarStore
from tasks._common import IN_MEMORY, retry_unless_permanent


@task(name="ingest-window", retries=2, retry_delay_seconds=[60, 300], retry_condition_fn=retry_unless_permanent)
def ingest_window(
    source: str,
    symbol: str,
    timeframe: str,
    start: str,
    end: str,
    chunk_days: float | None = None,
    db_url: str | None = None,
) -> dict:
    """Ingest ``start..end`` of one series (chunked, resumable); returns the report as a dict."""
    logger = get_run_logger()
    chunk = pd.Timedelta(days=chunk_days) if chunk_days else None

    def log(result) -> None:
        logger.info("chunk %d/%d %s..%s: %d bars", result.index, result.total, result.start, result.end, result.fetched)

    report: IngestReport = ingest(
        source, symbol, timeframe, start, end, store=BarStore(db_url), chunk=chunk, progress=log
    )
    logger.info(
        "%s %s %s: inserted %d, updated %d, unchanged %d",
        source, symbol, timeframe, report.inserted, report.updated, report.unchanged,
    )  # fmt: skip
    return report.to_dict()


@task(name="find-gaps")
def detect_gaps(
    symbol: str,
    timeframe: str,
    sources: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    db_url: str | None = None,
) -> list[dict]:
    """Missing windows of one series as dicts (``start``, ``end``, ``missing_bars``)."""
    gaps = find_gaps(BarStore(db_url), symbol, timeframe, source=sources, start=start, end=end)
    return [g.to_dict() for g in gaps]


@task(name="fill-gaps", retries=2, retry_delay_seconds=[60, 300], retry_condition_fn=retry_unless_permanent)
def fill_gaps_task(
    symbol: str,
    timeframe: str,
    from_source: str,
    sources: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    db_url: str | None = None,
) -> dict:
    """Fill the missing windows from ``from_source``; returns the report as a dict."""
    report: GapFillReport = fill_gaps(
        BarStore(db_url), symbol, timeframe, from_source, source=sources, start=start, end=end
    )
    get_run_logger().info(
        "%s %s: filled %d bars from %s, %d still missing",
        symbol, timeframe, report.filled, from_source, report.missing_after,
    )  # fmt: skip
    return report.to_dict()


@task(name="stream-polygon", **IN_MEMORY)
def stream_polygon(
    symbols: list[str],
    timeframe: str = "1m",
    max_messages: int | None = None,
    max_seconds: float | None = 300.0,
    db_url: str | None = None,
) -> list[dict]:
    """Stream live Polygon bars for a bounded time and upsert each batch (idempotent); one dict per symbol."""
    logger = get_run_logger()
    store = BarStore(db_url)
    totals = {s: {"source": "polygon", "symbol": s, "timeframe": timeframe, "mode": "stream", "fetched": 0,
                  "inserted": 0, "updated": 0, "unchanged": 0} for s in symbols}  # fmt: skip

    def upsert(symbol: str, bars: pd.DataFrame) -> None:
        written = store.upsert(bars, source="polygon", symbol=symbol, timeframe=timeframe)
        row = totals[symbol]
        row["fetched"] += len(bars)
        row["inserted"] += written.inserted
        row["updated"] += written.updated
        row["unchanged"] += written.unchanged

    report = stream_bars(symbols, upsert, timeframe=timeframe, max_messages=max_messages, max_seconds=max_seconds)
    logger.info(
        "polygon stream %s %s: %d aggregates, %d bars in %d batches, ended by %s",
        ",".join(symbols), timeframe, report.messages, report.bars, report.batches, report.ended,
    )  # fmt: skip
    for row in totals.values():
        logger.info(
            "polygon %s %s: inserted %d, updated %d, unchanged %d",
            row["symbol"], timeframe, row["inserted"], row["updated"], row["unchanged"],
        )  # fmt: skip
    return list(totals.values())


@task(name="record-verdicts")
def record_verdicts(source: str, symbol: str, timeframe: str, since: str, db_url: str | None = None) -> int:
    """Run the quality suite on the bars just collected (closed ones, with context) and record their per-bar
    verdicts, so the next trading cycle only compares hashes; returns how many bars were validated.

    A failing window is logged, not raised: nothing is recorded, and a trading cycle reading those bars
    validates them itself and refuses them.
    """
    try:
        return check_ingested(
            BarStore(db_url),
            symbol=symbol,
            timeframe=timeframe,
            asset_class=source_asset_class(source),
            since=pd.Timestamp(since),
            now=pd.Timestamp.now(tz="UTC"),
            sources=[source],
        )
    except DataQualityError as exc:
        get_run_logger().warning("%s %s: no quality verdict recorded: %s", symbol, timeframe, exc)
        return 0
