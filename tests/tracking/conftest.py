"""MLflow stores for tracking tests: an empty SQLite store in an isolated home, or the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_mlflow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mlflow_uri(request: pytest.FixtureRequest, qg_home: Path) -> Iterator[str]:
    """Configure MLflow on a real store and return its (unredacted) tracking URI."""
    import mlflow

    from pipeline.tracking import configure_mlflow, resolve_tracking_uri

    if request.param == "sqlite":
        seed_mlflow(qg_home, request.getfixturevalue("mlflow_template"))  # an empty store, schema already built
    uri = None if request.param == "sqlite" else request.getfixturevalue("pg_mlflow_url")
    configure_mlflow(uri)
    yield resolve_tracking_uri(uri)
    mlflow.set_tracking_uri(None)  # back to MLflow's default resolution
    mlflow.set_registry_uri(None)
