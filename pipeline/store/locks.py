"""Named locks in quantgate's database, held for one transaction, so processes on any host serialize.

PostgreSQL: ``pg_advisory_xact_lock(hashtext(key))`` with ``lock_timeout`` set for the transaction.
SQLite: ``BEGIN IMMEDIATE`` takes the database's single write lock (every named lock is the same lock;
waits up to the connection's ``busy_timeout``, 30 s). Either way the lock is released when the
transaction ends, also when the process dies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from pipeline import settings
from pipeline.errors import StoreError, first_line
from pipeline.store.database import ensure_schema

DEFAULT_TIMEOUT_S = 60.0


@contextmanager
def exclusive(key: str, db_url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[Connection]:
    """Hold lock ``key`` for one transaction and yield its connection (committed on success).

    Write what must change together with the lock through the yielded connection: on SQLite a second
    connection would wait for the lock this one holds.

    Parameters
    ----------
    key : str
        The lock's name (e.g. ``quantgate.registry:<model>``).
    db_url : str, optional
        quantgate's database (default ``QUANTGATE_DB_URL`` or the embedded SQLite).
    timeout_s : float
        How long to wait for the lock on PostgreSQL (SQLite waits its ``busy_timeout``).

    Yields
    ------
    Connection
        A connection inside the locked transaction.

    Raises
    ------
    StoreError
        If the lock is not granted in time.
    """
    engine = ensure_schema(db_url)  # what is written under the lock goes to quantgate's tables
    with engine.connect() as connection:
        try:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT set_config('lock_timeout', :timeout, true)"), {"timeout": f"{int(timeout_s * 1000)}ms"}
                )
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            elif connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:  # pragma: no cover - quantgate's database is SQLite or PostgreSQL
                raise StoreError(f"lock {key}: database {connection.dialect.name} is not supported")
        except OperationalError as exc:
            connection.rollback()
            raise StoreError(
                f"lock {key} on {settings.redact_url(str(engine.url))}: not granted within {timeout_s:.0f} s "
                f"(another process holds it): {first_line(exc.orig or exc)}"
            ) from exc
        yield connection
        connection.commit()
