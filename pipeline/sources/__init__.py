"""Market-data sources: one module each behind :class:`BarSource`."""

from pipeline.sources.base import KNOWN_SOURCES, BarSource, get_source, source_asset_class

__all__ = ["KNOWN_SOURCES", "BarSource", "get_source", "source_asset_class"]
