"""Shared fixtures: isolated quantgate homes, throw-away PostgreSQL databases, one Prefect harness.

PostgreSQL is real: the server on 127.0.0.1:5432 (trust auth). ``QUANTGATE_TEST_PG_ADMIN_URL``
overrides the admin connection. Each test session creates its own databases and drops them at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("QUANTGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]
# Cache compiled modules and pytest's rewritten test modules in __pycache__ (ignored by git) even where
# PYTHONDONTWRITEBYTECODE is set: otherwise every xdist worker, and every `quantgate` subprocess a test starts,
# compiles the repository's modules again (about 3 CPU-seconds per process). Reading the cache is never disabled.
sys.dont_write_bytecode = False
# Tests write lenient gates on purpose; the shipped policy is tested explicitly (tests/config/test_gate_policy.py).
os.environ.setdefault("QUANTGATE_GATE_POLICY", str(REPO / "tests" / "fixtures" / "lenient_gate_policy.yaml"))


def _create_database(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for this test ({exc.__class__.__name__}): {exc}")
    finally:
        admin.dispose()
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(name: str) -> None:
    from pipeline.store import dispose_all

    dispose_all()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for quantgate's own tables."""
    name, url = _create_database("qg_test")
    yield url
    _drop_database(name)


@pytest.fixture(scope="session")
def pg_mlflow_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for MLflow tracking."""
    name, url = _create_database("qg_mlflow_test")
    yield url
    _drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """quantgate's database on each backend: a fresh SQLite file, or the session's PostgreSQL database
    (tests that use it must not depend on it being empty: use unique symbols)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'quantgate.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def qg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated QUANTGATE_HOME (embedded SQLite stores) for one test."""
    home = tmp_path / "qghome"
    monkeypatch.setenv("QUANTGATE_HOME", str(home))
    monkeypatch.delenv("QUANTGATE_DB_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty embedded MLflow store (SQLite file), made once per test process by ``configure_mlflow``.

    Building MLflow's schema (its Alembic migrations) costs about a CPU-second per store; fixtures that need a
    fresh embedded store copy this file into their home instead (:func:`seed_mlflow`). Tests of first-time schema
    creation itself (tests/tracking/test_schema_race.py, ``configure_mlflow`` on an empty home) do not use it.
    """
    import sqlite3
    from contextlib import closing

    import mlflow

    from pipeline.tracking import configure_mlflow

    folder = tmp_path_factory.mktemp("mlflow-template")
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) if mlflow.is_tracking_uri_set() else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTGATE_HOME", str(folder / "home"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        configure_mlflow()
    if before is None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    else:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    template = folder / "mlflow.db"
    # The backup API copies a consistent snapshot, including what is still in the write-ahead log.
    with closing(sqlite3.connect(folder / "home" / "mlflow.db")) as source, closing(sqlite3.connect(template)) as copy:
        source.backup(copy)
    return template


def seed_mlflow(home: Path, template: Path) -> Path:
    """Put an empty MLflow store at ``home/mlflow.db`` (where ``configure_mlflow`` looks) from ``template``."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "mlflow.db")
    return home


@pytest.fixture
def mlflow_seeded(qg_home: Path, mlflow_template: Path) -> Path:
    """``qg_home`` with an empty embedded MLflow store already in it (see :func:`mlflow_template`)."""
    return seed_mlflow(qg_home, mlflow_template)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary API + database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _prefect_api_url_restored() -> Iterator[None]:
    """In-process commands may point PREFECT_API_URL at a server a test then stops (`quantgate server`):
    put the variable back as it was, so a later test in the same worker does not call a dead server."""
    before = os.environ.get("PREFECT_API_URL")
    yield
    if before is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = before
