"""The promotion log's repository: quantgate's ``promotion_history`` table, appended to and read back.

The registry records each stage change through :class:`PromotionLog`; nothing outside :mod:`pipeline.store`
writes the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from pipeline.store.database import ensure_schema
from pipeline.store.models import PromotionEvent


class PromotionLog:
    """Rows of ``promotion_history``: one per registry stage change."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        """The log in the database at ``url`` (default ``QUANTGATE_DB_URL``), its schema migrated."""
        self.engine = engine or ensure_schema(url)

    def append(self, rows: Sequence[Mapping[str, Any]], connection: Connection | None = None) -> None:
        """Insert ``rows`` (column -> value, no ``id``) in one transaction, or inside the open ``connection``.

        Database errors propagate as SQLAlchemy errors: the caller words them for its own operation.
        """
        if not rows:
            return
        if connection is not None:
            connection.execute(insert(PromotionEvent), list(rows))
            return
        with self.engine.begin() as own:
            own.execute(insert(PromotionEvent), list(rows))

    def read(self, model_name: str | None = None) -> list[Mapping[str, Any]]:
        """Every row (or ``model_name``'s), oldest first, as column -> value mappings."""
        table = PromotionEvent.__table__
        query = select(table).order_by(table.c.at, table.c.id)
        if model_name is not None:
            query = query.where(table.c.model_name == model_name)
        with self.engine.connect() as connection:
            return list(connection.execute(query).mappings().all())
