"""The promotion history: one row in quantgate's ``promotion_history`` table per stage change made here."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from pipeline import settings
from pipeline.errors import TrackingError, first_line
from pipeline.store.locks import exclusive
from pipeline.store.promotions import PromotionLog

FLOW_ACTOR = "quantgate-flow"
_ACTOR_LIMIT = 128


@dataclass(frozen=True)
class HistoryRow:
    """One stage change: about to be recorded (``id`` None), or read back from ``promotion_history``.

    Fields read as attributes (``row.to_stage``) or, like the table row, by column name (``row["to_stage"]``).
    """

    model_name: str
    version: str
    from_stage: str
    to_stage: str
    actor: str
    reason: str
    run_id: str | None
    gate_passed: bool | None
    forced: bool
    at: dt.datetime
    id: int | None = None

    def __getitem__(self, column: str) -> Any:
        if column not in _FIELDS:
            raise KeyError(column)
        return getattr(self, column)


_FIELDS = frozenset(field.name for field in fields(HistoryRow))


def default_actor() -> str:
    """Return who is acting: ``$USER@hostname`` (or the login name), else ``quantgate-flow``.

    Returns
    -------
    str
        At most 128 characters.
    """
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if not user:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - getpass raises OSError/KeyError without a passwd entry
            user = None
    if not user:
        return FLOW_ACTOR
    try:
        host = socket.gethostname()
    except OSError:
        host = ""
    return (f"{user}@{host}" if host else user)[:_ACTOR_LIMIT]


@contextmanager
def model_lock(model_name: str, db_url: str | None = None) -> Iterator[Connection]:
    """Serialize registry changes of ``model_name`` across processes; yield the locked transaction.

    Promote and demote read, change and record a model's stages inside this lock, so concurrent calls
    run one after the other (see :func:`pipeline.store.locks.exclusive`). Write the history through
    the yielded connection: it commits when the block ends.

    Parameters
    ----------
    model_name : str
        Registered model name.
    db_url : str, optional
        quantgate's database.

    Yields
    ------
    Connection
        The connection holding the lock.
    """
    with exclusive(f"quantgate.registry:{model_name}", db_url) as connection:
        yield connection


def write_history(rows: Sequence[HistoryRow], db_url: str | None = None, connection: Connection | None = None) -> None:
    """Insert ``rows`` into ``promotion_history`` in one transaction.

    Parameters
    ----------
    rows : Sequence[HistoryRow]
        The stage changes.
    db_url : str, optional
        quantgate's database (default: ``QUANTGATE_DB_URL`` or the embedded SQLite).
    connection : Connection, optional
        Write inside this open transaction (the :func:`model_lock` one) instead of a new one.

    Raises
    ------
    TrackingError
        If the database cannot be written.
    """
    if not rows:
        return
    log = PromotionLog(db_url)
    engine = log.engine
    payload = [
        {key: value for key, value in asdict(row).items() if key != "id"} | {"actor": row.actor[:_ACTOR_LIMIT]}
        for row in rows
    ]
    try:
        log.append(payload, connection)
    except SQLAlchemyError as exc:
        first = rows[0]
        raise TrackingError(
            f"model {first.model_name} version {first.version}: the registry changed to {first.to_stage} but the "
            f"promotion history could not be written to {settings.redact_url(str(engine.url))}: "
            f"{exc.__class__.__name__}: {first_line(exc)}"
        ) from exc


def read_history(model_name: str | None = None, db_url: str | None = None) -> list[HistoryRow]:
    """Return recorded stage changes, oldest first.

    Parameters
    ----------
    model_name : str, optional
        Only this model's rows.
    db_url : str, optional
        quantgate's database.

    Returns
    -------
    list[HistoryRow]
        Rows with their ``id`` (``at`` a UTC datetime).
    """
    log = PromotionLog(db_url)
    engine = log.engine
    try:
        result = log.read(model_name)
    except SQLAlchemyError as exc:
        raise TrackingError(
            f"cannot read promotion history from {settings.redact_url(str(engine.url))}: "
            f"{exc.__class__.__name__}: {first_line(exc)}"
        ) from exc
    return [HistoryRow(**{name: row[name] for name in _FIELDS}) for row in result]
