"""Optuna's RDB storage on quantgate's database, opened through Optuna's public storage API.

Optuna keeps its schema version in Alembic's default ``alembic_version`` table; quantgate's migrations
use their own ``quantgate_alembic_version``, so the two histories never mix. quantgate's schema is
migrated first (workers racing on a fresh database retry), then Optuna's tables are created beside it
and their Alembic revision is compared with the running Optuna's head revision.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from pipeline import settings
from pipeline.errors import StoreError, TuningError, first_line

if TYPE_CHECKING:
    import optuna

#: Heartbeats let a worker that starts later fail the RUNNING trials of a worker that was killed.
HEARTBEAT_INTERVAL_S = 30
HEARTBEAT_GRACE_S = 120


def _retrying(attempts: int, error: type[Exception]) -> Retrying:
    """Retry on ``error`` (workers creating the same tables at once), waiting 0.5 s, 1 s, 1.5 s ..."""
    return Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_incrementing(start=0.5, increment=0.5),
        retry=retry_if_exception_type(error),
        reraise=True,
    )


def _engine_kwargs(url: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def open_storage(url: str | None = None, *, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Open Optuna's RDB storage on quantgate's database, creating its tables if needed.

    Parameters
    ----------
    url : str, optional
        Database URL; defaults to :func:`pipeline.settings.db_url`.
    attempts : int
        Tries when workers create the tables (quantgate's or Optuna's) at the same moment.

    Returns
    -------
    optuna.storages.RDBStorage
        The storage (call ``storage.engine.dispose()`` when done).

    Raises
    ------
    TuningError
        If the database cannot be reached, or holds Optuna tables of another schema version.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.store.database import ensure_schema

    url = url or settings.db_url()
    redacted = settings.redact_url(url)

    def rdb_storage() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=_engine_kwargs(url),
                skip_compatibility_check=True,  # checked below, with a message naming the storage
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=HEARTBEAT_GRACE_S,
            )

    # quantgate's migrations first (their own version table). Workers starting together on a
    # fresh database race to create the same tables; the loser retries once the winner has committed.
    try:
        _retrying(attempts, StoreError)(ensure_schema, url)
    except StoreError as exc:
        raise TuningError(f"Optuna storage {redacted}: {exc}") from exc
    try:
        storage = _retrying(attempts, SQLAlchemyError)(rdb_storage)
    except SQLAlchemyError as exc:
        raise TuningError(f"Optuna storage {redacted}: cannot create tables: {first_line(exc)}") from exc
    current, head = storage.get_current_version(), storage.get_head_version()
    if current != head:
        storage.engine.dispose()
        raise TuningError(
            f"Optuna storage {redacted}: tables have schema version {current}, this Optuna expects "
            f"{head}; use the Optuna version that created them"
        )
    return storage
