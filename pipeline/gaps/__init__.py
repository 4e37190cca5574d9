"""Gap detection against the expected bar grid, gap filling from a secondary source, volume coverage.

A gap is a run of consecutive expected bars (exchange sessions for equities, every bar for crypto)
that the store does not hold. :func:`fill_gaps` fetches exactly those windows from another source and
stores what it gets under that source's name, so provenance shows which bar came from where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import SourceError
from pipeline.sources import get_source, source_asset_class
from pipeline.store import BarStore
from pipeline.timeframes import AssetClass, bar_length, expected_grid
from pipeline.window import TimeLike, end_of, start_of


@dataclass(frozen=True)
class Gap:
    """Consecutive missing bars: open time of the first and last missing bar, and how many."""

    start: pd.Timestamp
    end: pd.Timestamp
    missing_bars: int

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "missing_bars": self.missing_bars}


@dataclass
class GapFillReport:
    """What one gap fill did."""

    symbol: str
    timeframe: str
    from_source: str
    primary: list[str]
    gaps_before: list[Gap] = field(default_factory=list)
    gaps_after: list[Gap] = field(default_factory=list)
    fetched: int = 0
    filled: int = 0
    volume: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def missing_before(self) -> int:
        """Missing bars before filling."""
        return sum(g.missing_bars for g in self.gaps_before)

    @property
    def missing_after(self) -> int:
        """Missing bars after filling."""
        return sum(g.missing_bars for g in self.gaps_after)

    def to_dict(self) -> dict:
        """JSON-safe summary."""
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "from_source": self.from_source,
            "primary": self.primary,
            "gaps_before": [g.to_dict() for g in self.gaps_before],
            "gaps_after": [g.to_dict() for g in self.gaps_after],
            "fetched": self.fetched,
            "filled": self.filled,
            "volume": self.volume.to_dict(orient="records"),
        }


def _utc(value: TimeLike | None) -> pd.Timestamp | None:
    return None if value is None else start_of(value)


def _end(value: TimeLike | None) -> pd.Timestamp | None:
    return None if value is None else end_of(value)


def _sources(source: str | Sequence[str] | None) -> list[str] | None:
    if source is None:
        return None
    return [source] if isinstance(source, str) else list(source)


def _asset_class(store: BarStore, symbol: str, sources: list[str] | None, asset_class: AssetClass | None) -> AssetClass:
    """The calendar to use: given, else the first named source's, else crypto if any stored source is crypto-only.

    Polygon and Alpaca are equity sources that also serve crypto pairs, so a series whose sources
    disagree is crypto when any of them is a crypto-only source.
    """
    if asset_class is not None:
        return asset_class
    if sources:
        return source_asset_class(sources[0])
    names = sorted(store.summary(symbol)["source"].unique())
    if not names:
        raise SourceError(f"{symbol}: no stored bars and no asset class given; pass asset_class or a source")
    classes = {source_asset_class(n) for n in names}
    return "crypto" if "crypto" in classes else "equity"


def _runs(grid: pd.DatetimeIndex, missing: np.ndarray) -> list[Gap]:
    gaps: list[Gap] = []
    positions = np.flatnonzero(missing)
    if positions.size == 0:
        return gaps
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [positions.size - 1]])
    for a, b in zip(starts, ends, strict=True):
        gaps.append(Gap(grid[positions[a]], grid[positions[b]], int(b - a + 1)))
    return gaps


def find_gaps(
    store: BarStore,
    symbol: str,
    timeframe: str,
    source: str | Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    asset_class: AssetClass | None = None,
) -> list[Gap]:
    """Runs of expected bars missing from the store.

    Parameters
    ----------
    store
        The bar store.
    symbol, timeframe
        The series.
    source
        Only bars from this source (or these sources) count as present; None counts every source.
    start, end
        Half-open window ``[start, end)`` to check (:mod:`pipeline.window`); default: from the first to
        the last stored bar of the series, both included.
    asset_class
        Calendar to use; default: the asset class of the source(s).

    Returns
    -------
    list of Gap
        Ascending; empty when the series is complete (or nothing is stored and no window is given).
    """
    names = _sources(source)
    bars = store.load(symbol, timeframe, _utc(start), _end(end), sources=names)
    lo = _utc(start) if start is not None else (bars.index[0] if not bars.empty else None)
    hi = _end(end) if end is not None else (bars.index[-1] + bar_length(timeframe) if not bars.empty else None)
    if lo is None or hi is None:
        return []
    cls = _asset_class(store, symbol, names, asset_class)
    grid = expected_grid(timeframe, lo, hi, cls)
    missing = ~grid.isin(bars.index)
    return _runs(grid, missing)


def volume_coverage(
    store: BarStore,
    symbol: str,
    timeframe: str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
) -> pd.DataFrame:
    """Volume coverage of every source holding the series.

    Columns: ``source, bars, bars_with_volume, volume_ratio, volume_reliable``. ``volume_ratio`` is the
    source's total volume over the bars it shares with the highest-volume source, divided by that
    source's volume on the same bars (1.0 for the reference; NaN when nothing overlaps). Partial-volume
    feeds (some USD pairs) show up with ratios well below 1: do not lean on their volume.
    """
    summary = store.summary(symbol)
    summary = summary[summary["timeframe"] == timeframe]
    frames = {name: store.load(symbol, timeframe, _utc(start), _end(end), sources=[name]) for name in summary["source"]}
    rows = []
    totals = {name: float(f["volume"].sum()) for name, f in frames.items() if not f.empty}
    reference = max(totals, key=totals.get) if totals else None
    for name, frame in frames.items():
        ratio = float("nan")
        if reference is not None and not frame.empty:
            ref = frames[reference]["volume"]
            common = frame.index.intersection(ref.index)
            both = frame.loc[common, "volume"].notna() & ref.loc[common].notna()
            denominator = float(ref.loc[common][both].sum())
            if denominator > 0:
                ratio = float(frame.loc[common, "volume"][both].sum()) / denominator
        try:
            reliable = bool(get_source(name).volume_reliable)
        except SourceError:
            reliable = False
        rows.append(
            {
                "source": name,
                "bars": len(frame),
                "bars_with_volume": int(frame["volume"].notna().sum()) if not frame.empty else 0,
                "volume_ratio": ratio,
                "volume_reliable": reliable,
            }
        )
    return pd.DataFrame(rows, columns=["source", "bars", "bars_with_volume", "volume_ratio", "volume_reliable"])


def fill_gaps(
    store: BarStore,
    symbol: str,
    timeframe: str,
    from_source: str,
    source: str | Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    asset_class: AssetClass | None = None,
) -> GapFillReport:
    """Fetch exactly the missing windows from ``from_source`` and store them under its name.

    Parameters
    ----------
    store
        The bar store.
    symbol, timeframe
        The series.
    from_source
        Secondary source to fetch the missing bars from.
    source
        Primary source(s) whose holes are filled; None means every source already stored.
    start, end, asset_class
        As in :func:`find_gaps`.

    Returns
    -------
    GapFillReport
        Gaps before and after (against primary plus ``from_source``), bars fetched and stored, and
        volume coverage per source.
    """
    primary = _sources(source) or sorted(
        set(store.summary(symbol).query("timeframe == @timeframe")["source"]) - {from_source}
    )
    if not primary:
        raise SourceError(f"{symbol} {timeframe}: nothing stored to fill; ingest a primary source first")
    held = store.load(symbol, timeframe, _utc(start), _end(end), sources=primary)
    if held.empty and (start is None or end is None):
        raise SourceError(f"{symbol} {timeframe}: no bars from {', '.join(primary)}; give --start and --end")
    lo = _utc(start) if start is not None else held.index[0]
    hi = _end(end) if end is not None else held.index[-1] + bar_length(timeframe)
    cls = _asset_class(store, symbol, primary, asset_class)
    both = [*primary, from_source]
    gaps = find_gaps(store, symbol, timeframe, source=both, start=lo, end=hi, asset_class=cls)
    report = GapFillReport(symbol, timeframe, from_source, list(primary), gaps_before=gaps)
    if gaps:
        fetcher = get_source(from_source)
        length = bar_length(timeframe)
        for gap in gaps:
            window_end = gap.end + length
            bars = fetcher.fetch(symbol, timeframe, gap.start, window_end)
            wanted = expected_grid(timeframe, gap.start, window_end, cls)
            bars = bars.loc[bars.index.isin(wanted)]
            report.fetched += len(bars)
            if not bars.empty:
                written = store.upsert(bars, source=from_source, symbol=symbol, timeframe=timeframe)
                report.filled += written.inserted + written.updated
        report.gaps_after = find_gaps(store, symbol, timeframe, source=both, start=lo, end=hi, asset_class=cls)
    report.volume = volume_coverage(store, symbol, timeframe, lo, hi)
    return report


__all__ = ["Gap", "GapFillReport", "fill_gaps", "find_gaps", "volume_coverage"]
