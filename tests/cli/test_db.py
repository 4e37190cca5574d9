"""`quantgate db init`: creates and migrates quantgate's database and MLflow's, and can be run again."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from quantgate.cli import app
from tests.conftest import PG_ADMIN_URL, _drop_database

runner = CliRunner()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.usefixtures("quiet_mode_undone")
def test_db_init_when_databases_missing_creates_and_migrates_both_then_is_idempotent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"qg_init_{uuid.uuid4().hex[:8]}", f"qg_init_mlflow_{uuid.uuid4().hex[:8]}"]
    db_url, mlflow_url = (PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" for name in names)
    monkeypatch.setenv("QUANTGATE_DB_URL", db_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    try:
        first = runner.invoke(app, ["db", "init"])
        assert first.exit_code == 0, first.output
        assert first.output.count("created, at the newest schema") == 2
        assert {"ohlcv_bars", "quantgate_alembic_version"} <= _tables(db_url)
        assert {"experiments", "runs", "registered_models"} <= _tables(mlflow_url)
        again = runner.invoke(app, ["db", "init"])
        assert again.exit_code == 0, again.output
        assert "created" not in again.output
    finally:
        for name in names:
            _drop_database(name)


@pytest.mark.usefixtures("quiet_mode_undone")
def test_db_init_when_mlflow_is_a_tracking_server_leaves_its_database_alone(
    qg_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    result = runner.invoke(app, ["db", "init"])
    assert result.exit_code == 0, result.output
    assert "tracking server" in result.output
    assert (qg_home / "quantgate.db").exists()
