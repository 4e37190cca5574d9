"""psycopg's redundant "pipeline aborted" warning (MLflow on PostgreSQL) is dropped; its other warnings are kept."""

from __future__ import annotations

import logging

import psycopg
import pytest

from pipeline.store import quiet_aborted_pipeline_noise


def _warn_like_psycopg(error: Exception) -> None:
    # psycopg/_pipeline.py, Pipeline.__exit__, while another exception is already propagating
    logging.getLogger("psycopg").warning("error ignored terminating %r: %s", "<psycopg.Pipeline [INERROR]>", error)


def test_quiet_aborted_pipeline_noise_when_installed_drops_only_that_warning(caplog: pytest.LogCaptureFixture) -> None:
    quiet_aborted_pipeline_noise()
    quiet_aborted_pipeline_noise()  # idempotent
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        _warn_like_psycopg(psycopg.errors.PipelineAborted("pipeline aborted"))
        _warn_like_psycopg(psycopg.errors.DivisionByZero("division by zero"))
        logging.getLogger("psycopg").warning("connection lost")
    kept = [r.getMessage() for r in caplog.records if r.name == "psycopg"]
    assert len(kept) == 2
    assert not any("pipeline aborted" in message for message in kept)
    assert len(logging.getLogger("psycopg").filters) == 1
