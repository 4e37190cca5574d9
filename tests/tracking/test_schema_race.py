"""First-time schema creation on fresh databases from several processes at once (MLflow's and quantgate's)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO, _create_database, _drop_database

# Each process imports first, then waits for the go file, so the first-time work collides.
SCRIPT = """
import sys, time
from pathlib import Path
from pipeline.store import ensure_schema
from pipeline.tracking import configure_mlflow, ensure_experiment
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.01)
configure_mlflow(sys.argv[1])
ensure_experiment("race")
ensure_schema(sys.argv[2])
print("ok", flush=True)
"""


def _race(tracking_uri: str, db_url: str, tmp_path: Path, n: int = 3) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, tracking_uri, db_url, str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]
    time.sleep(8)  # let every process finish importing MLflow (not an assertion: only makes the race likelier)
    go.touch()
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * n, "\n---\n".join(o[-2000:] for o in outputs)
    assert all(o.strip().endswith("ok") for o in outputs)


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_first_use_when_three_processes_start_on_fresh_postgres_all_succeed(tmp_path: Path) -> None:
    mlflow_name, mlflow_url = _create_database("qg_mlflow_race")
    qg_name, qg_url = _create_database("qg_race")
    try:
        _race(mlflow_url, qg_url, tmp_path)
        assert _count(mlflow_url, "select count(*) from alembic_version") == 1
        assert _count(mlflow_url, "select count(*) from experiments where name = 'race'") == 1
        assert _count(qg_url, "select count(*) from quantgate_alembic_version") == 1
    finally:
        _drop_database(mlflow_name)
        _drop_database(qg_name)


@pytest.mark.slow
def test_first_use_when_three_processes_start_on_fresh_sqlite_all_succeed(tmp_path: Path) -> None:
    mlflow_url, qg_url = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'quantgate.db'}"
    _race(mlflow_url, qg_url, tmp_path)
    assert _count(mlflow_url, "select count(*) from alembic_version") == 1
    assert _count(qg_url, "select count(*) from quantgate_alembic_version") == 1
