"""Resuming a sweep: only a finished, completed and published run of the same config, data and code counts."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml

from pipeline.experiment.record import code_version
from pipeline.sweep import completed_run, discover
from pipeline.tracking import configure_mlflow, start_run
from pipeline.tracking import tags as T
from tests.flows.conftest import experiment


@pytest.fixture
def item(qg_home: Path, tmp_path: Path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "a.yaml").write_text(yaml.safe_dump(experiment("resume-a"), sort_keys=False))
    configure_mlflow()
    yield discover(folder).items[0]
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _run(item, status: str, **extra: str) -> str:
    tags = {
        T.CONFIG_HASH: item.config_hash,
        T.DATA_FINGERPRINT: "fp1",
        T.CODE_VERSION: code_version(),
        T.STATUS: T.STATUS_COMPLETED,
        **extra,
    }
    run = start_run(item.config.name, tags=tags)
    run.end(status)
    return run.run_id


def test_completed_run_when_publishing_was_interrupted_does_not_count(item) -> None:
    _run(item, "FINISHED")  # killed between the run's end and the registry: no registry.version tag
    _run(item, "KILLED", **{T.REGISTRY_VERSION: "1"})
    assert completed_run(item, "fp1") is None
    published = _run(item, "FINISHED", **{T.REGISTRY_VERSION: "none"})
    assert completed_run(item, "fp1") == published
    assert completed_run(item, "other-fingerprint") is None
