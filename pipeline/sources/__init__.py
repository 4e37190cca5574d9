"""Market-data sources: one module each behind :class:`BarSource`, found through :func:`get_source`."""

from pipeline.sources.base import (
    BarSource,
    get_source,
    register_source,
    source_asset_class,
    source_class,
    source_names,
)

__all__ = ["BarSource", "get_source", "register_source", "source_asset_class", "source_class", "source_names"]
