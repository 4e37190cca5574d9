"""Where quantgate keeps its state, read from the environment (never from experiment files).

- ``QUANTGATE_HOME``: folder of the embedded default stores (``./.quantgate``).
- ``QUANTGATE_DB_URL``: quantgate's own database (bars, promotion history, Optuna studies);
  defaults to a SQLite file in ``QUANTGATE_HOME``; PostgreSQL via ``postgresql+psycopg://``.
- ``MLFLOW_TRACKING_URI``: MLflow tracking; defaults to a SQLite file in ``QUANTGATE_HOME`` with
  artifacts beside it.
- ``QUANTGATE_STALE_RUN_HOURS``: how long a RUNNING MLflow run of another host may go without a heartbeat
  before ``quantgate run``/``sweep`` marks it KILLED (default 24).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


def home() -> Path:
    """The folder of the embedded default stores (created on demand)."""
    return Path(os.environ.get("QUANTGATE_HOME", ".quantgate")).resolve()


def db_url() -> str:
    """quantgate's database URL."""
    url = os.environ.get("QUANTGATE_DB_URL")
    if url:
        return url
    return f"sqlite:///{home() / 'quantgate.db'}"


def mlflow_tracking_uri() -> str:
    """MLflow's tracking URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{home() / 'mlflow.db'}"


def mlflow_artifact_root() -> str:
    """Where MLflow experiments created by quantgate keep artifacts when tracking is a database."""
    root = os.environ.get("QUANTGATE_ARTIFACT_ROOT")
    if root:
        return root
    return (home() / "mlartifacts").as_uri()


def stale_run_timeout() -> dt.timedelta:
    """How long a RUNNING run owned by another host may go without a heartbeat before it counts as dead."""
    from pipeline.errors import ConfigError

    text = os.environ.get("QUANTGATE_STALE_RUN_HOURS", "24")
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not hours > 0 or hours == float("inf"):
        raise ConfigError(f"QUANTGATE_STALE_RUN_HOURS: expected a positive number of hours (got {text!r})")
    return dt.timedelta(hours=hours)


def redact_url(url: str) -> str:
    """A database URL without its password, safe to print or log."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown by scheme only
        return url.split(":", 1)[0] + "://***"
