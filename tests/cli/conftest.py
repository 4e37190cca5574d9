"""Fixtures for CLI tests run in-process."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest

from tests.fakes.fixtures import *  # noqa: F403 - the fake market-data services of test_data.py
from tests.registry.conftest import env, registry_env  # noqa: F401 - the registry fixtures of test_models.py

QUIET_ENV = (
    "PREFECT_LOGGING_LEVEL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL",
    "MLFLOW_LOGGING_LEVEL",
    "GIT_PYTHON_REFRESH",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
)
QUIET_LOGGERS = ("psycopg", "mlflow", "alembic", "prefect", "great_expectations", "httpx")


@pytest.fixture
def quiet_mode_undone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what the CLI's quiet mode changes in this process (environment, warning filters, logger levels),
    so an in-process command does not change later tests."""
    for var in QUIET_ENV:
        monkeypatch.setenv(var, "placeholder")  # records the original value (or its absence) for undo
        monkeypatch.delenv(var)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    with warnings.catch_warnings():
        yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
