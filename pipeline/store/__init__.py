"""The bar store: quantgate's database of canonical OHLCV bars and its own bookkeeping tables.

Stages use the repository (:class:`BarStore`), never the ORM tables; :func:`ensure_schema` migrates.
"""

from pipeline.bars import OHLCV_COLUMNS, PRICE_COLUMNS, canonicalize
from pipeline.store.database import (
    create_database,
    dispose_all,
    ensure_schema,
    get_engine,
    quiet_aborted_pipeline_noise,
    upgrade,
)
from pipeline.store.repository import BarStore, UpsertResult

__all__ = [
    "OHLCV_COLUMNS",
    "PRICE_COLUMNS",
    "BarStore",
    "UpsertResult",
    "canonicalize",
    "create_database",
    "dispose_all",
    "ensure_schema",
    "get_engine",
    "quiet_aborted_pipeline_noise",
    "upgrade",
]
