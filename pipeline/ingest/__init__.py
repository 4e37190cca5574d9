"""Resumable, chunked, idempotent ingestion of one series from one source into the bar store.

A window is cut into chunks aligned on multiples of the chunk length (UTC epoch), so the same
command always produces the same chunks. Each chunk is fetched whole, then written in one
transaction (:meth:`BarStore.upsert`); a chunk lying completely in the past is then recorded in
``ingest_chunks`` and skipped by any later run, so a run killed half-way resumes where it stopped.
Re-running a finished ingestion changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd

from pipeline.errors import SourceError
from pipeline.sources import BarSource, get_source, source_asset_class
from pipeline.sources._common import DeadlinePassed, check_deadline, ingest_scope
from pipeline.store import BarStore
from pipeline.timeframes import bar_length, expected_grid
from pipeline.window import TimeLike, Window

#: Default chunk length per timeframe (about 1000-5000 bars each).
DEFAULT_CHUNK: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(days=1),
    "5m": pd.Timedelta(days=7),
    "15m": pd.Timedelta(days=14),
    "1h": pd.Timedelta(days=30),
    "4h": pd.Timedelta(days=120),
    "1d": pd.Timedelta(days=365),
}


@dataclass(frozen=True)
class ChunkResult:
    """What happened to one chunk (handed to the progress callback)."""

    index: int
    total: int
    start: pd.Timestamp
    end: pd.Timestamp
    skipped: bool
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class IngestReport:
    """Totals of one ingestion run."""

    source: str
    symbol: str
    timeframe: str
    start: pd.Timestamp
    end: pd.Timestamp
    chunks_total: int = 0
    chunks_done: int = 0
    chunks_skipped: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    filled: int = 0
    removed: int = 0
    chunks: list[ChunkResult] = field(default_factory=list, repr=False)

    @property
    def written(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated

    def to_dict(self) -> dict:
        """A JSON-safe summary (no per-chunk detail)."""
        out = asdict(self)
        out.pop("chunks")
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        return out


ProgressCallback = Callable[[ChunkResult], None]


def resolve_window(start: TimeLike, end: TimeLike) -> Window:
    """The half-open UTC window ``[start, end)`` (:class:`pipeline.window.Window`; a date-only ``end``
    covers its whole day).

    Raises
    ------
    SourceError
        When a bound is not a time or the window is empty.
    """
    try:
        return Window.parse(start, end)
    except ValueError as exc:
        raise SourceError(f"window {start}..{end}: {exc}") from None


def plan_chunks(start: pd.Timestamp, end: pd.Timestamp, chunk: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Half-open ``[start, end)`` windows covering ``[start, end)``, cut at multiples of ``chunk``."""
    epoch = pd.Timestamp(0, tz="UTC")
    out: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    cursor = start
    while cursor < end:
        boundary = epoch + ((cursor - epoch) // chunk + 1) * chunk
        hi = min(boundary, end)
        out.append((cursor, hi))
        cursor = boundary
    return out


def ingest(
    source_name: str,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike,
    store: BarStore | None = None,
    chunk: pd.Timedelta | dt.timedelta | str | None = None,
    progress: ProgressCallback | None = None,
    *,
    resume: bool = True,
    source: BarSource | None = None,
) -> IngestReport:
    """Fetch ``symbol``/``timeframe`` bars for ``start..end`` from ``source_name`` and store them.

    Parameters
    ----------
    source_name
        A known source (``binance``, ``polygon``, ``sample``, ...); stored bars carry this name.
    symbol, timeframe
        The series in quantgate notation.
    start, end
        The half-open window ``[start, end)`` (:mod:`pipeline.window`); a date-only ``end`` covers its
        whole day.
    store
        Target store (default: ``QUANTGATE_DB_URL``).
    chunk
        Chunk length (default per timeframe, see :data:`DEFAULT_CHUNK`).
    progress
        Called after every chunk with its :class:`ChunkResult`.
    resume
        Skip chunks recorded complete by an earlier run (``False`` re-fetches everything).
    source
        A constructed source to fetch from instead of ``get_source(source_name)`` (the ``file`` source,
        which needs its path).

    Returns
    -------
    IngestReport
        Chunks done/skipped and rows fetched/inserted/updated/unchanged.

    Raises
    ------
    SourceError
        A permanent source failure, or the ingestion deadline (``QUANTGATE_INGEST_DEADLINE``) passed;
        chunks before it stay committed, the failing one wrote nothing, and a rerun resumes.
    StoreError
        A bar was refused (±Inf, missing price) or the database failed (``StoreUnavailable``: an outage).
    """
    bar_length(timeframe)  # validates the timeframe
    source = source if source is not None else get_source(source_name)
    store = store or BarStore()
    window = resolve_window(start, end)
    lo, hi = window.start, window.end
    length = pd.Timedelta(chunk) if chunk is not None else DEFAULT_CHUNK[timeframe]
    if length < bar_length(timeframe):
        raise SourceError(f"chunk {length} is shorter than one {timeframe} bar")
    chunks = plan_chunks(lo, hi, length)
    done = store.completed_chunks(source=source_name, symbol=symbol, timeframe=timeframe) if resume else {}
    report = IngestReport(source_name, symbol, timeframe, lo, hi, chunks_total=len(chunks))
    settled_before = pd.Timestamp.now(tz="UTC") - bar_length(timeframe)
    with ingest_scope():
        for i, (c_lo, c_hi) in enumerate(chunks, start=1):
            recorded = done.get(c_lo)
            if recorded is not None and recorded >= c_hi:
                result = ChunkResult(i, len(chunks), c_lo, c_hi, skipped=True)
                report.chunks_skipped += 1
            else:
                _check_ingest_deadline(source_name, symbol, Window(c_lo, hi), i - 1, len(chunks))
                bars = Window(c_lo, c_hi).clip(source.fetch(symbol, timeframe, c_lo, c_hi))
                written = store.upsert(bars, source=source_name, symbol=symbol, timeframe=timeframe)
                if c_hi < settled_before:
                    store.record_chunk(
                        source=source_name, symbol=symbol, timeframe=timeframe, start=c_lo, end=c_hi, rows=len(bars)
                    )
                result = ChunkResult(
                    i, len(chunks), c_lo, c_hi, False, len(bars), written.inserted, written.updated, written.unchanged
                )
                report.chunks_done += 1
                report.fetched += len(bars)
                report.inserted += written.inserted
                report.updated += written.updated
                report.unchanged += written.unchanged
            report.chunks.append(result)
            if progress is not None:
                progress(result)
    return report


def _check_ingest_deadline(source_name: str, symbol: str, rest: Window, done: int, total: int) -> None:
    """Stop between chunks once the ingestion deadline has passed (finished chunks stay stored)."""
    try:
        check_deadline()
    except DeadlinePassed as exc:
        raise SourceError(
            f"{source_name}: {symbol} {rest}: ingestion {exc} after {done} of {total} chunks; run it again to resume"
        ) from None


def ensure_bars(data_config, store: BarStore | None = None) -> IngestReport | None:
    """Ingest the experiment's bars only when some expected bar of its window is missing.

    :func:`current_bars` without the bars it read.
    """
    return current_bars(data_config, store)[1]


def current_bars(data_config, store: BarStore | None = None) -> tuple[pd.DataFrame, IngestReport | None]:
    """Ingest the experiment's bars when some expected bar of its window is missing, and read them.

    The primary source (``data_config.source``) is ingested for the window; remaining holes are
    then filled from each ``fallback`` source in order (stored under that source's name).

    Parameters
    ----------
    data_config
        The experiment's ``data`` section (:class:`pipeline.config.DataConfig`).
    store
        Target store (default: ``QUANTGATE_DB_URL``).

    Returns
    -------
    (pandas.DataFrame, IngestReport or None)
        The window's stored bars merged by source priority (as :meth:`BarStore.load` with the primary
        source and its fallbacks), and the ingestion report: None when the store already held every
        expected bar, and then the bars were read once.
    """
    store = store or BarStore()
    cfg = data_config
    window = resolve_window(cfg.start, cfg.end)
    sources = [cfg.source, *cfg.fallback]
    if cfg.source == "file":
        report = ingest_file(cfg.path, cfg.symbol, cfg.timeframe, window, store)
        return store.load(cfg.symbol, cfg.timeframe, window.start, window.end, sources=sources), report
    present = store.load(cfg.symbol, cfg.timeframe, window.start, window.end, sources=sources)
    grid = expected_grid(cfg.timeframe, window.start, window.end, cfg.asset_class or source_asset_class(cfg.source))
    if not present.empty and grid.difference(present.index).empty:
        return present, None
    report = _ingest_missing(cfg, window, store)
    return store.load(cfg.symbol, cfg.timeframe, window.start, window.end, sources=sources), report


def _ingest_missing(cfg, window: Window, store: BarStore) -> IngestReport:
    """Ingest the window from the primary source, then fill what is still missing from each fallback."""
    from pipeline.gaps import fill_gaps, find_gaps

    asset_class = cfg.asset_class or source_asset_class(cfg.source)
    lo, hi = window.start, window.end
    sources = [cfg.source, *cfg.fallback]
    report = ingest(cfg.source, cfg.symbol, cfg.timeframe, lo, hi, store=store)
    for fallback in cfg.fallback:
        gaps = find_gaps(store, cfg.symbol, cfg.timeframe, source=sources, start=lo, end=hi, asset_class=asset_class)
        if not gaps:
            break
        filled = fill_gaps(
            store,
            cfg.symbol,
            cfg.timeframe,
            fallback,
            source=sources,
            start=lo,
            end=hi,
            asset_class=asset_class,
        )
        report.filled += filled.filled
    return report


def ingest_file(path: str, symbol: str, timeframe: str, window: Window, store: BarStore) -> IngestReport:
    """Make the store's ``file`` bars of the series in ``window`` equal the file's, on every run.

    The file is the truth and may have changed since the last run, so it is read whole every time
    (nothing is stored when it is bad), upserted (unchanged bars are left alone), and stored bars of the
    window that the file no longer holds are removed.
    """
    source = get_source("file", path=path)
    file_bars = window.clip(source.bars())  # reads and checks the whole file before anything is stored
    report = ingest("file", symbol, timeframe, window.start, window.end, store=store, resume=False, source=source)
    stored = store.load(symbol, timeframe, window.start, window.end, sources=["file"])
    stale = stored.index.difference(file_bars.index)
    if len(stale):
        report.removed = store.delete_bars(source="file", symbol=symbol, timeframe=timeframe, ts=stale)
    return report


__all__ = [
    "DEFAULT_CHUNK",
    "ChunkResult",
    "IngestReport",
    "ProgressCallback",
    "current_bars",
    "ensure_bars",
    "ingest",
    "ingest_file",
    "plan_chunks",
    "resolve_window",
]
