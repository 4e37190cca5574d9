"""The bars an experiment runs on: ingested when missing, merged with fallback sources, windowed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import DataConfig
from pipeline.errors import SourceError, StoreError
from pipeline.sources import source_asset_class
from pipeline.store import BarStore
from pipeline.timeframes import AssetClass, bars_per_year
from pipeline.window import Window


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
        first, last = self.bars.index[0], self.bars.index[-1]
        daily = first == first.normalize() and last == last.normalize()
        shape = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
        return f"{first.strftime(shape)} .. {last.strftime(shape)} ({len(self.bars)} bars)"


def asset_class_of(data: DataConfig) -> AssetClass:
    """The asset class: the YAML's data.asset_class, else the one the primary source serves."""
    if data.asset_class is not None:
        return data.asset_class
    try:
        return source_asset_class(data.source)
    except ModuleNotFoundError as exc:
        raise SourceError(f"data.source: unknown data source {data.source!r}") from exc


def experiment_window(data: DataConfig) -> Window:
    """The experiment's half-open UTC window: ``data.start`` 00:00 to the day after ``data.end`` (exclusive)."""
    return Window.parse(data.start, data.end)


def load_experiment_bars(data: DataConfig, store: BarStore | None = None) -> ExperimentBars:
    """Ingest missing bars for the window (primary, then fallbacks), then read them back merged by priority."""
    from pipeline.ingest import current_bars

    window = experiment_window(data)
    bars, report = current_bars(data, store=store or BarStore())
    ingested = report.written if report is not None else 0
    if bars.empty:
        raise StoreError(
            f"no bars for {data.symbol} {data.timeframe} {window} from {data.source}"
            + (f" or {', '.join(data.fallback)}" if data.fallback else "")
        )
    asset_class = asset_class_of(data)
    return ExperimentBars(bars, asset_class, bars_per_year(data.timeframe, asset_class), ingested)
