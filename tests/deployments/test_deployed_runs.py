"""Deployed flows, end to end, the way a user runs them: a real Prefect server, `deployments/setup.sh`, a
process worker started outside the checkout, runs triggered with parameters or fired by a schedule, and
their results in MLflow on PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.deployments.conftest import RUN_DEADLINE_S, PrefectStack, Stores
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def write_config(folder: Path, name: str, symbol: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    raw = experiment(name, data={"symbol": symbol}, registry={"promote": False})
    raw["gate"].update(bootstrap_reps=100, leakage_cuts=2)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def trigger(stack: PrefectStack, deployment: str, parameters: dict) -> str:
    """`prefect deployment run NAME --params JSON`; return the new flow run's id."""
    result = stack.prefect("deployment", "run", deployment, "--params", json.dumps(parameters))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", result.stdout)
    assert match, result.stdout
    return match.group(1)


def finished_runs(stores: Stores, experiment_name: str) -> list:
    client = MlflowClient(tracking_uri=stores.mlflow_url)
    found = client.get_experiment_by_name(experiment_name)
    assert found is not None, f"no MLflow experiment {experiment_name!r}"
    return [r for r in client.search_runs([found.experiment_id]) if r.info.status == "FINISHED"]


def test_deployed_experiment_and_sweep_when_triggered_with_parameters_complete_into_mlflow(
    worker: Stores, deployed: PrefectStack, tmp_path: Path
) -> None:
    single = write_config(tmp_path / "single", "deployed-single", "AAPL")
    folder = tmp_path / "sweep"
    for symbol in ("IBM", "MSFT"):
        write_config(folder, f"deployed-sweep-{symbol.lower()}", symbol)

    run_ids = {
        "experiment": trigger(deployed, "experiment/experiment-run", {"config_path": str(single)}),
        "sweep": trigger(deployed, "sweep/sweep-experiments", {"folder": str(folder), "parallel": 1}),
    }
    for label, run_id in run_ids.items():
        run = deployed.wait_for_run(run_id)
        assert run["state"]["type"] == "COMPLETED", f"{label}: {run['state']['type']}: {run['state'].get('message')}"

    for name in ("deployed-single", "deployed-sweep-ibm", "deployed-sweep-msft"):
        runs = finished_runs(worker, name)
        assert len(runs) == 1, name
        assert "sharpe" in runs[0].data.metrics
        assert runs[0].data.tags["gate.passed"] in {"true", "false"}
    reports = list(worker.artifacts.rglob("gate/report.json"))
    assert len(reports) == 3, f"artifacts under {worker.artifacts}: {reports}"


def test_scheduled_deployment_when_given_a_short_interval_fires_and_completes(
    worker: Stores, deployed: PrefectStack, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "scheduled", "deployed-scheduled", "GOOG")
    with deployed.api() as api:
        deployment = api.get("/deployments/name/experiment/experiment-run").raise_for_status().json()
        created = api.post(
            f"/deployments/{deployment['id']}/schedules",
            json=[
                {
                    "schedule": {"interval": 10, "anchor_date": datetime.now(UTC).isoformat()},
                    "active": True,
                    "parameters": {"config_path": str(config)},
                }
            ],
        ).raise_for_status().json()
        try:
            end = time.monotonic() + RUN_DEADLINE_S
            completed = []
            while not completed and time.monotonic() < end:
                runs = api.post(
                    "/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}}
                ).raise_for_status().json()
                scheduled = [r for r in runs if r["auto_scheduled"] and r["parameters"] == {"config_path": str(config)}]
                completed = [r for r in scheduled if r["state"] and r["state"]["type"] == "COMPLETED"]
                failed = [r for r in scheduled if r["state"] and r["state"]["type"] in {"FAILED", "CRASHED"}]
                assert not failed, failed[0]["state"]
                time.sleep(1)
        finally:
            for schedule in created:
                api.delete(f"/deployments/{deployment['id']}/schedules/{schedule['id']}")
    assert completed, f"no scheduled run of experiment-run completed within {RUN_DEADLINE_S}s"
    assert finished_runs(worker, "deployed-scheduled")
