"""RunLogger on a real MLflow (SQLite and PostgreSQL): params, tags, artifacts, model round trip."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from pipeline.config import config_hash
from pipeline.errors import TrackingError
from pipeline.tracking import (
    configure_mlflow,
    data_fingerprint,
    equity_curve_figure,
    feature_importance_figure,
    find_finished_run,
    git_state,
    run_url_hint,
    start_run,
)
from tests.stubs import random_walk_bars
from tests.tracking.builders import experiment, tiny_booster

REPO = Path(__file__).resolve().parents[2]


def _artifact_paths(client: mlflow.MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_run_logger_when_full_run_logged_records_everything(mlflow_uri: str, qg_home: Path, tmp_path: Path) -> None:
    long_hypothesis = "Momentum persists. " + "x" * 6500
    config, yaml_path = experiment(tmp_path, name=f"mom-{uuid.uuid4().hex[:8]}", hypothesis=long_hypothesis)
    bars = random_walk_bars(120)
    booster, X = tiny_booster()
    index = bars.index[:50]
    equity = pd.Series(np.linspace(1.0, 1.2, 50), index=index)
    benchmark = pd.Series(np.linspace(1.0, 1.1, 50), index=index)
    gate = {"passed": True, "rules": [{"tier": "performance", "name": "sharpe", "value": 1.1, "passed": True}]}

    with start_run(config.name, run_name="AAPL-1d", tags={"quantgate.stage": "test"}) as run:
        assert run.log_config(config, yaml_path) == config_hash(config)
        commit, _ = run.log_git_commit(REPO)
        fingerprint = run.log_data_fingerprint(bars, "sample", "AAPL", "1d", config.data.start, config.data.end)
        run.log_dict_artifact({"success": True, "coverage": 1.0}, "quality/report.json")
        logged = run.log_metrics({"sharpe": 1.25, "n_trades": np.int64(31), "sortino": float("nan"), "ok": True})
        run.log_gate(gate, tags={"tier.statistics": "true"}, metrics={"psr": 0.97}, markdown="# Gate\npassed")
        run.log_figure(equity_curve_figure(equity, benchmark, "AAPL"), "plots/equity_curve.png")
        run.log_figure(feature_importance_figure(booster.get_score(importance_type="gain")), "plots/importance.png")
        model = run.log_xgboost_model(booster, X, metadata={"n_classes": 2})

    client = mlflow.MlflowClient()
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    params, tags, metrics = stored.data.params, stored.data.tags, stored.data.metrics
    assert params["data.symbol"] == "AAPL" and params["target.holding_period"] == "5"
    assert len(params["hypothesis"]) == 6000 and params["hypothesis"].endswith("[truncated]")
    assert tags["quantgate.config_hash"] == config_hash(config)
    assert tags["owner"] == "research" and tags["quantgate.stage"] == "test"
    assert tags["git.commit"] == commit and tags["git.dirty"] in {"true", "false", "unknown"}
    assert tags["data.fingerprint"] == fingerprint == data_fingerprint(bars)
    assert tags["data.rows"] == "120" and tags["data.source"] == "sample"
    assert tags["gate.passed"] == "true" and tags["gate.tier.performance"] == "true"
    assert tags["gate.tier.statistics"] == "true" and tags["gate.rule.sharpe"] == "true"
    assert tags["quantgate.skipped_metrics"] == "sortino"
    assert logged == {"sharpe": 1.25, "n_trades": 31.0, "ok": 1.0}
    assert metrics["sharpe"] == 1.25 and metrics["gate.sharpe"] == 1.1 and metrics["gate.psr"] == 0.97
    assert "sortino" not in metrics

    artifacts = _artifact_paths(client, run.run_id)
    assert {
        "config/experiment.yaml",
        "config/resolved.json",
        "data/fingerprint.json",
        "quality/report.json",
        "gate/report.json",
        "gate/report.md",
        "plots/equity_curve.png",
        "plots/importance.png",
    } <= artifacts
    folder = Path(client.download_artifacts(run.run_id, "", str(tmp_path / "dl")))
    assert (folder / "config/experiment.yaml").read_text() == yaml_path.read_text()
    assert json.loads((folder / "data/fingerprint.json").read_text())["fingerprint"] == fingerprint
    assert (folder / "plots/equity_curve.png").read_bytes().startswith(b"\x89PNG")

    logged_model = client.get_logged_model(model.model_id)
    assert logged_model.source_run_id == run.run_id and logged_model.name == "model"
    assert logged_model.experiment_id == stored.info.experiment_id and logged_model.status == "READY"
    assert logged_model.artifact_location.startswith(stored.info.artifact_uri.rsplit("/", 2)[0])
    assert str(qg_home.resolve()) in logged_model.artifact_location
    loaded = mlflow.xgboost.load_model(model.model_uri)
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    info = mlflow.models.get_model_info(model.model_uri)
    assert info.signature is not None and info.signature.inputs.input_names() == list(X.columns)
    assert info.metadata == {"n_classes": 2}


@pytest.mark.usefixtures("mlflow_seeded")
def test_start_run_when_block_raises_marks_run_failed(qg_home: Path) -> None:
    configure_mlflow()
    with pytest.raises(RuntimeError), start_run("fails", run_name="boom") as run:
        raise RuntimeError("training blew up")
    assert mlflow.MlflowClient().get_run(run.run_id).info.status == "FAILED"


@pytest.mark.usefixtures("mlflow_seeded")
def test_find_finished_run_when_tags_match_returns_newest_finished(qg_home: Path) -> None:
    configure_mlflow()
    tags = {"quantgate.config_hash": "abc123", "data.symbol": "AAPL"}
    assert find_finished_run("sweep", tags) is None  # no such experiment yet
    with start_run("sweep", run_name="parent") as parent:
        with start_run("sweep", run_name="child", tags=tags, parent_run_id=parent.run_id) as child:
            pass
        with pytest.raises(ValueError), start_run("sweep", run_name="failed", tags=tags, nested=True) as _:
            raise ValueError("not finished")
    assert find_finished_run("sweep", tags) == child.run_id
    assert find_finished_run("sweep", {**tags, "data.symbol": "MSFT"}) is None
    assert find_finished_run("sweep", {"quantgate.config_hash": "it's quoted"}) is None
    stored = mlflow.MlflowClient().get_run(child.run_id)
    assert stored.data.tags["mlflow.parentRunId"] == parent.run_id


@pytest.mark.usefixtures("mlflow_seeded")
def test_start_run_when_nested_without_parent_raises(qg_home: Path) -> None:
    configure_mlflow()
    with pytest.raises(TrackingError, match="no parent run"):
        start_run("orphans", nested=True)


def test_configure_mlflow_when_no_uri_uses_sqlite_in_home(qg_home: Path) -> None:
    uri = configure_mlflow()
    assert uri == f"sqlite:///{qg_home.resolve() / 'mlflow.db'}"
    assert mlflow.get_tracking_uri() == uri and mlflow.get_registry_uri() == uri
    with start_run("where-artifacts-go") as run:
        run.log_text_artifact("hello", "notes/hello.txt")
    experiment = mlflow.MlflowClient().get_experiment_by_name("where-artifacts-go")
    assert experiment.artifact_location == (qg_home.resolve() / "mlartifacts" / "where-artifacts-go").as_uri()
    assert (qg_home / "mlartifacts" / "where-artifacts-go").is_dir()
    assert run_url_hint() == f"{Path(sys.executable).with_name('mlflow')} ui --backend-store-uri {uri}"


@pytest.mark.usefixtures("mlflow_seeded")
def test_configure_mlflow_when_url_has_password_redacts_it(qg_home: Path, pg_mlflow_url: str) -> None:
    secret_url = "postgresql+psycopg://quant:s3cret@127.0.0.1:5432/mlflow"
    try:
        with pytest.raises(TrackingError) as refused:  # no such role: one line, password redacted
            configure_mlflow(secret_url)
        assert "s3cret" not in str(refused.value) and "postgresql+psycopg://quant:***@" in str(refused.value)
        assert "s3cret" not in run_url_hint(secret_url)
        assert mlflow.get_tracking_uri() == secret_url
        user_url = pg_mlflow_url.replace("postgres@", "postgres:s3cret@")  # trust auth ignores it
        shown = configure_mlflow(user_url)
        assert "s3cret" not in shown and shown.startswith("postgresql+psycopg://postgres:***@")
    finally:
        configure_mlflow()
    assert run_url_hint("http://127.0.0.1:5000") == "open http://127.0.0.1:5000"


def test_git_state_when_outside_repo_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == ("unknown", "unknown")
    commit, dirty = git_state(REPO)
    assert len(commit) == 40 and dirty in {"true", "false"}


def test_log_xgboost_model_when_requirements_checked_skips_package_scan_and_still_warns(
    qg_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow.utils import requirements_utils

    from pipeline.tracking import default_pip_requirements

    configure_mlflow()
    scans: list[int] = []
    real_scan = requirements_utils.importlib_metadata.packages_distributions
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)  # as in a new process
    monkeypatch.setattr(
        requirements_utils.importlib_metadata, "packages_distributions", lambda: scans.append(1) or real_scan()
    )
    booster, X = tiny_booster()
    stale = [r for r in default_pip_requirements() if not r.startswith("numpy")] + ["numpy==0.0.1"]
    with caplog.at_level("WARNING", logger="mlflow"), start_run("scan", run_name="model") as run:
        run.log_xgboost_model(booster, X)  # the default requirements: all satisfied
        quiet = [r.getMessage() for r in caplog.records if "mismatches" in r.getMessage()]
        run.log_xgboost_model(booster, X, artifact_name="stale", pip_requirements=stale)

    assert scans == []  # no scan of every installed distribution
    assert quiet == []
    warned = [r.getMessage() for r in caplog.records if "mismatches" in r.getMessage()]
    assert len(warned) >= 1 and "numpy (current: " in warned[0] and "required: numpy==0.0.1" in warned[0]
    assert requirements_utils._MODULES_TO_PACKAGES is None  # later inference in this process scans as usual
    requirements_utils._init_modules_to_packages_map()
    assert scans == [1] and "xgboost" in requirements_utils._MODULES_TO_PACKAGES
