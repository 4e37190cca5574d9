"""The bars an experiment runs on: ingested when missing, merged with fallback sources, windowed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import DataConfig
from pipeline.errors import SourceError, StoreError
from pipeline.sources import source_asset_class
from pipeline.store import BarStore
from pipeline.timeframes import AssetClass, bars_per_year


@dataclass(frozen=True)
class ExperimentBars:
    """Bars of one experiment with what later stages need to interpret them."""

    bars: pd.DataFrame
    asset_class: AssetClass
    periods_per_year: float
    ingested: int

    @property
    def window(self) -> str:
        if self.bars.empty:
            return "(no bars)"
        return f"{self.bars.index[0]:%Y-%m-%d} .. {self.bars.index[-1]:%Y-%m-%d} ({len(self.bars)} bars)"


def asset_class_of(data: DataConfig) -> AssetClass:
    """The asset class: the YAML's data.asset_class, else the one the primary source serves."""
    if data.asset_class is not None:
        return data.asset_class
    try:
        return source_asset_class(data.source)
    except ModuleNotFoundError as exc:
        raise SourceError(f"data.source: unknown data source {data.source!r}") from exc


def load_experiment_bars(data: DataConfig, store: BarStore | None = None) -> ExperimentBars:
    """Ingest missing bars for the window (primary, then fallbacks), then read them back merged by priority."""
    from pipeline.ingest import ensure_bars

    store = store or BarStore()
    report = ensure_bars(data, store=store)
    ingested = report.written if report is not None else 0
    bars = store.load(data.symbol, data.timeframe, data.start, data.end, sources=[data.source, *data.fallback])
    if bars.empty:
        raise StoreError(
            f"no bars for {data.symbol} {data.timeframe} {data.start}..{data.end} from {data.source}"
            + (f" or {', '.join(data.fallback)}" if data.fallback else "")
        )
    asset_class = asset_class_of(data)
    return ExperimentBars(bars, asset_class, bars_per_year(data.timeframe, asset_class), ingested)
