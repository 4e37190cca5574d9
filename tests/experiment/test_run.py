"""`ExperimentRun`: the one owner of an experiment's MLflow run, against a real MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from pipeline.config import config_hash
from pipeline.experiment.run import ExperimentRun, pause_for_test, run_name
from pipeline.tracking import configure_mlflow
from pipeline.tracking import tags as T
from tests.tracking.builders import experiment


@pytest.fixture
def sqlite_mlflow(mlflow_seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MLflow on an empty SQLite file with no connection pool, so replacing the file breaks the store."""
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    configure_mlflow()
    yield mlflow_seeded
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_experiment_run_when_block_completes_ends_finished_with_owner_tags(sqlite_mlflow: Path, tmp_path: Path) -> None:
    config, _ = experiment(tmp_path)
    with ExperimentRun(config, tags={"extra": "1"}) as run:
        assert MlflowClient().get_run(run.run_id).info.status == "RUNNING"
        run.stage("logging")
    info = MlflowClient().get_run(run.run_id)
    assert info.info.status == "FINISHED"
    tags = info.data.tags
    assert tags[T.STATUS] == T.STATUS_COMPLETED and tags["extra"] == "1"
    assert tags[T.OWNER_PID] == str(os.getpid()) and tags[T.OWNER_HOST]
    assert tags[T.OWNER_HEARTBEAT] >= "2026"
    assert T.ERROR not in tags


def test_experiment_run_when_block_raises_records_first_line_and_ends_failed(
    sqlite_mlflow: Path, tmp_path: Path
) -> None:
    config, _ = experiment(tmp_path)
    with pytest.raises(ValueError, match="the real cause"), ExperimentRun(config) as run:
        raise ValueError("the real cause\nsecond line")
    info = MlflowClient().get_run(run.run_id)
    assert info.info.status == "FAILED"
    assert info.data.tags[T.ERROR] == "the real cause"
    assert info.data.tags[T.STATUS] == "failed"


def test_experiment_run_when_store_is_gone_during_failure_raises_the_original_error(
    sqlite_mlflow: Path, tmp_path: Path
) -> None:
    config, _ = experiment(tmp_path)
    with pytest.raises(ZeroDivisionError, match="the original cause"), ExperimentRun(config):
        (sqlite_mlflow / "mlflow.db").write_bytes(b"not a database " * 512)
        raise ZeroDivisionError("the original cause")


def test_experiment_run_when_finishing_fails_raises_that_error(sqlite_mlflow: Path, tmp_path: Path) -> None:
    from pipeline.errors import TrackingError

    config, _ = experiment(tmp_path)
    with pytest.raises(TrackingError, match="cannot set tags"), ExperimentRun(config):
        (sqlite_mlflow / "mlflow.db").write_bytes(b"not a database " * 512)


def test_pause_for_test_when_point_not_named_returns_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    monkeypatch.setenv("QUANTGATE_TEST_PAUSE_AT", "finish:2")
    monkeypatch.setenv("QUANTGATE_TEST_PAUSE_MARKER", str(marker))
    pause_for_test("logging")
    pause_for_test("finish")  # first hit of finish; the seam waits for the second
    assert not marker.exists()


def test_run_name_when_config_given_names_symbol_timeframe_variant_and_hash(tmp_path: Path) -> None:
    config, _ = experiment(tmp_path, name="mom-aapl")
    assert run_name(config) == f"AAPL-1d-long-flat-{config_hash(config)[:6]}"
