"""Engines for quantgate's database, migrated to the newest schema on first use."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from pipeline import settings
from pipeline.errors import StoreError, first_line

MIGRATIONS = Path(__file__).with_name("migrations")
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent).

    Processes that start at once on an old schema migrate one at a time: the migration transaction first
    takes an advisory lock (PostgreSQL) or the write lock (SQLite ``BEGIN IMMEDIATE``), so the later ones
    find the schema already at head.
    """
    config = _alembic_config()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('quantgate.migrations'))"))
            elif connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot migrate database {settings.redact_url(str(engine.url))}: {exc.__class__.__name__}: "
            f"{first_line(exc)}"
        ) from exc


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``QUANTGATE_DB_URL`` or the embedded SQLite), migrated once."""
    url = url or settings.db_url()
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _on_sqlite_connect)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        upgrade(engine)
        _engines[url] = engine
        return engine


def dispose_all() -> None:
    """Close every cached engine (tests use it between databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
