"""`quantgate models | promote | demote` on a real registry: refusals, forced promotion, history, demotion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.registry import promotion_history, register_model
from quantgate.cli import app
from tests.registry.conftest import RegistryEnv, assert_one_production_with_ordered_history

runner = CliRunner()


@pytest.fixture
def cli_env(env: RegistryEnv, monkeypatch: pytest.MonkeyPatch) -> RegistryEnv:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env.tracking_uri)
    monkeypatch.setenv("QUANTGATE_DB_URL", env.db_url)
    return env


def test_cli_promote_when_gate_failed_refuses_then_force_records_reason(cli_env: RegistryEnv) -> None:
    name = cli_env.model_name()
    register_model(cli_env.run_id, name, cli_env.model_uri, gate_passed=False)

    refused = runner.invoke(app, ["promote", name, "1", "--reason", "looks fine to me"])
    assert refused.exit_code == 1
    assert "gate" in refused.output.lower()
    assert MlflowClient().get_model_version(name, "1").current_stage == "None"

    forced = runner.invoke(app, ["promote", name, "1", "--reason", "override for a paper test", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Production" in forced.output
    row = promotion_history(name, db_url=cli_env.db_url)[-1]
    assert (row["to_stage"], row["forced"], row["reason"]) == ("Production", True, "override for a paper test")

    listed = runner.invoke(app, ["models"], terminal_width=200)
    assert listed.exit_code == 0
    line = next(line for line in listed.output.splitlines() if name in line)
    assert "Production" in line and "production" in line

    demoted = runner.invoke(app, ["demote", name, "--reason", "end of test"])
    assert demoted.exit_code == 0, demoted.output
    assert MlflowClient().get_model_version(name, "1").current_stage == "Archived"
    assert promotion_history(name, db_url=cli_env.db_url)[-1]["from_stage"] == "Production"


def test_cli_models_when_promoted_by_hand_in_mlflow_shows_it(cli_env: RegistryEnv) -> None:
    name = cli_env.model_name()
    register_model(cli_env.run_id, name, cli_env.model_uri, gate_passed=True)
    MlflowClient().set_registered_model_alias(name, "production", "1")  # as the MLflow UI would
    listed = runner.invoke(app, ["models"], terminal_width=200)
    line = next(line for line in listed.output.splitlines() if name in line)
    assert "production" in line


@pytest.mark.slow
def test_cli_promote_when_eight_processes_race_leaves_one_production_and_full_history(cli_env: RegistryEnv) -> None:
    name = cli_env.model_name()
    versions = [register_model(cli_env.run_id, name, cli_env.model_uri, gate_passed=True).version for _ in range(8)]
    exe = str(Path(sys.executable).with_name("quantgate"))
    procs = [
        subprocess.Popen(
            [exe, "promote", name, version, "--reason", f"race {version}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        for version in versions
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, outputs
    assert_one_production_with_ordered_history(name, cli_env.db_url, versions)
