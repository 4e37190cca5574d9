"""The CLI's quiet mode: library chatter (psycopg's "pipeline aborted" on MLflow + PostgreSQL) stays off the
terminal unless --verbose."""

from __future__ import annotations

import logging
import warnings

import psycopg  # noqa: F401 - psycopg sets its logger's level on import, as in a real run
import pytest

from quantgate.cli._common import quiet_orchestration

NAMES = ("psycopg", "mlflow", "alembic", "prefect", "great_expectations", "httpx")


@pytest.fixture
def restored_loggers(monkeypatch: pytest.MonkeyPatch):
    for var in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL", "MLFLOW_LOGGING_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    levels = {name: logging.getLogger(name).level for name in NAMES}
    with warnings.catch_warnings():
        yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restored_loggers")
def test_quiet_orchestration_when_not_verbose_drops_psycopg_warnings() -> None:
    quiet_orchestration(False)
    assert not logging.getLogger("psycopg").isEnabledFor(logging.WARNING)
    assert logging.getLogger("psycopg").isEnabledFor(logging.ERROR)


@pytest.mark.usefixtures("restored_loggers")
def test_quiet_orchestration_when_verbose_keeps_psycopg_warnings() -> None:
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    quiet_orchestration(True)
    assert logging.getLogger("psycopg").isEnabledFor(logging.WARNING)
