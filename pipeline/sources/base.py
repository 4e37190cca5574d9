"""The one interface every market-data source implements, and the registry that finds them.

A source module ``pipeline/sources/<name>.py`` defines a class implementing :class:`BarSource` and
exposes it as ``SOURCE``; ``get_source(name)`` imports that module on demand, so adding a source touches
one module and importing quantgate never pays for every client library.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any

import pandas as pd

from pipeline.errors import SourceError
from pipeline.timeframes import AssetClass


class BarSource(ABC):
    """Fetches bars of one symbol/timeframe/window and returns them in canonical form.

    Implementations return a frame indexed by UTC bar-open ``ts`` with float ``open, high, low,
    close, volume`` columns (``volume`` NaN where the source has none), covering the half-open
    window ``start <= ts < end`` (:mod:`pipeline.window`). Transient failures are retried inside; permanent ones raise
    :class:`SourceError` with a one-line message naming source, symbol and window (never a key).
    """

    name: str
    asset_class: AssetClass
    #: Whether this source's volume is the market's full volume (False for partial-volume feeds).
    volume_reliable: bool = True

    @abstractmethod
    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars with ``start <= ts < end`` (both UTC instants)."""

    def symbols(self) -> list[str] | None:
        """Symbols this source knows, where it can list them cheaply; None when it cannot."""
        return None


KNOWN_SOURCES: tuple[str, ...] = ("sample", "polygon", "binance", "alpaca", "coingecko", "geckoterminal", "file")


def get_source(name: str, **options: Any) -> BarSource:
    """The source called ``name`` (imports ``pipeline.sources.<name>``).

    ``options`` go to the source's constructor: the ``file`` source takes ``path``.
    """
    if name not in KNOWN_SOURCES:
        raise SourceError(f"unknown data source {name!r}; known: {', '.join(KNOWN_SOURCES)}")
    module = importlib.import_module(f"pipeline.sources.{name}")
    factory = module.SOURCE
    return factory(**options) if isinstance(factory, type) else factory


def source_asset_class(name: str) -> AssetClass:
    """Asset class a source serves (equity or crypto), without constructing a client."""
    module = importlib.import_module(f"pipeline.sources.{name}")
    return module.SOURCE.asset_class
