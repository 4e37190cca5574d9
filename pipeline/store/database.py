"""Engines for quantgate's database, and the one explicit call that migrates its schema.

:func:`get_engine` only connects. :func:`ensure_schema` (used by ``quantgate db init``, the store's
repositories and every entry point that writes quantgate's tables) brings the schema to the newest migration,
once per process and URL.
"""

from __future__ import annotations

import logging
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
_migrated: set[str] = set()
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


class _AbortedPipelineNoise(logging.Filter):
    """Drop psycopg's "error ignored terminating <Pipeline>: pipeline aborted" warning.

    psycopg logs it only while another exception is already leaving the pipeline block (it keeps that one),
    so it never carries news; MLflow's SQL store triggers it on every duplicate-key insert it handles itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "error ignored terminating %r: %s" and "pipeline aborted" in record.getMessage())


_ABORTED_PIPELINE_NOISE = _AbortedPipelineNoise()


def quiet_aborted_pipeline_noise() -> None:
    """Keep psycopg's redundant "pipeline aborted" warning out of logs (idempotent)."""
    logging.getLogger("psycopg").addFilter(_ABORTED_PIPELINE_NOISE)


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The cached engine for ``url`` (default: ``QUANTGATE_DB_URL`` or the embedded SQLite); no migration.

    Use :func:`ensure_schema` where quantgate's tables must exist.
    """
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
            quiet_aborted_pipeline_noise()
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def ensure_schema(url: str | None = None) -> Engine:
    """The engine for ``url`` with quantgate's schema at the newest migration (migrated once per process).

    Raises
    ------
    StoreError
        If the database cannot be reached or migrated.
    """
    url = url or settings.db_url()
    engine = get_engine(url)
    if url not in _migrated:
        upgrade(engine)
        with _lock:
            _migrated.add(url)
    return engine


def create_database(url: str) -> bool:
    """Create the database ``url`` names unless it exists (the schema is not touched).

    PostgreSQL: ``CREATE DATABASE`` through the same server's ``postgres`` database, so the user in
    ``url`` needs the CREATEDB privilege. SQLite: the file's folder (the file appears on first use).

    Parameters
    ----------
    url : str
        An SQLAlchemy database URL (``postgresql+psycopg://user@host/name`` or ``sqlite:///path``).

    Returns
    -------
    bool
        True when the database was created, False when it already existed.

    Raises
    ------
    StoreError
        If the server cannot be reached, the user may not create databases, or the backend is neither.
    """
    shown = settings.redact_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises several types for a malformed URL
        raise StoreError(f"database URL {shown}: not a valid SQLAlchemy URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return False
        path = Path(parsed.database)
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        return not existed
    if backend != "postgresql":
        raise StoreError(f"database URL {shown}: only postgresql and sqlite databases can be created")
    if not parsed.database:
        raise StoreError(f"database URL {shown}: names no database")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database})
            if exists.first() is not None:
                return False
            conn.execute(text(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(parsed.database)}"))
            return True
    except SQLAlchemyError as exc:
        reason = first_line(getattr(exc, "orig", None) or exc)
        raise StoreError(f"cannot create database {shown}: {exc.__class__.__name__}: {reason}") from exc
    finally:
        admin.dispose()


def dispose_all() -> None:
    """Close every cached engine (tests use it between databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()
