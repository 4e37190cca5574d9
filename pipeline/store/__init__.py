"""The bar store: quantgate's database of canonical OHLCV bars and its own bookkeeping tables."""

from pipeline.bars import OHLCV_COLUMNS, PRICE_COLUMNS, canonicalize
from pipeline.store.bar_store import BarStore, UpsertResult
from pipeline.store.database import create_database, dispose_all, get_engine, quiet_aborted_pipeline_noise, upgrade

__all__ = [
    "OHLCV_COLUMNS",
    "PRICE_COLUMNS",
    "BarStore",
    "UpsertResult",
    "canonicalize",
    "create_database",
    "dispose_all",
    "get_engine",
    "quiet_aborted_pipeline_noise",
    "upgrade",
]
