"""The CLI's quiet mode: library chatter (psycopg's "pipeline aborted" on MLflow + PostgreSQL) stays off the
terminal unless --verbose."""

from __future__ import annotations

import logging

import psycopg  # noqa: F401 - psycopg sets its logger's level on import, as in a real run
import pytest

from quantgate.cli._common import quiet_orchestration


@pytest.mark.usefixtures("quiet_mode_undone")
def test_quiet_orchestration_when_not_verbose_drops_psycopg_warnings() -> None:
    quiet_orchestration(False)
    assert not logging.getLogger("psycopg").isEnabledFor(logging.WARNING)
    assert logging.getLogger("psycopg").isEnabledFor(logging.ERROR)


@pytest.mark.usefixtures("quiet_mode_undone")
def test_quiet_orchestration_when_verbose_keeps_psycopg_warnings() -> None:
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    quiet_orchestration(True)
    assert logging.getLogger("psycopg").isEnabledFor(logging.WARNING)
