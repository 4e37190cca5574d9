"""Deployed flows, end to end, the way a user runs them: a real Prefect server, `deployments/setup.sh`, a
process worker started outside the checkout, runs triggered with parameters or fired by a schedule, and
their results in MLflow on PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from mlflow import MlflowClient

from tests.deployments.conftest import RUN_DEADLINE_S, PrefectStack, Stores
from tests.flows.conftest import experiment

# One test, not two: a Prefect server, setup.sh and a worker cost minutes, and pytest-xdist 3.8's
# xdist_group does not keep tests together under pytest 9 (item ids are no longer rewritable).
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


def wait_for_scheduled_run(api: httpx.Client, deployment_id: str, parameters: dict) -> dict:
    """Poll until the scheduler has created a run with ``parameters`` and the worker completed it."""
    end = time.monotonic() + RUN_DEADLINE_S
    query = {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}}
    while time.monotonic() < end:
        try:
            runs = api.post("/flow_runs/filter", json=query).raise_for_status().json()
        except httpx.TimeoutException:  # a busy server can stall a read; the deadline still holds
            continue
        scheduled = [r for r in runs if r["auto_scheduled"] and r["parameters"] == parameters]
        states = {r["state"]["type"] for r in scheduled if r["state"]}
        assert not states & {"FAILED", "CRASHED"}, [r["state"] for r in scheduled]
        done = [r for r in scheduled if r["state"] and r["state"]["type"] == "COMPLETED"]
        if done:
            return done[0]
        time.sleep(1)
    pytest.fail(f"no scheduled run of the deployment completed within {RUN_DEADLINE_S}s")


def test_deployed_flows_when_triggered_with_parameters_or_scheduled_complete_into_mlflow(
    worker: Stores, deployed: PrefectStack, tmp_path: Path
) -> None:
    single = write_config(tmp_path / "single", "deployed-single", "AAPL")
    folder = tmp_path / "sweep"
    for symbol in ("IBM", "MSFT"):
        write_config(folder, f"deployed-sweep-{symbol.lower()}", symbol)
    scheduled_parameters = {"config_path": str(write_config(tmp_path / "scheduled", "deployed-scheduled", "GOOG"))}

    with deployed.api() as api:
        deployment = api.get("/deployments/name/experiment/experiment-run").raise_for_status().json()
        # A schedule with a short interval (every minute, anchored so that the first run is due in ~5 s):
        # the server's scheduler must create the run on its own and the worker must complete it.
        anchor = datetime.now(UTC) - timedelta(seconds=55)
        schedule = {"interval": 60, "anchor_date": anchor.isoformat()}
        created = (
            api.post(
                f"/deployments/{deployment['id']}/schedules",
                json=[{"schedule": schedule, "active": True, "parameters": scheduled_parameters}],
            )
            .raise_for_status()
            .json()
        )
        try:
            run_ids = {
                "experiment": trigger(deployed, "experiment/experiment-run", {"config_path": str(single)}),
                "sweep": trigger(deployed, "sweep/sweep-experiments", {"folder": str(folder), "parallel": 1}),
            }
            for label, run_id in run_ids.items():
                run = deployed.wait_for_run(run_id)
                state = run["state"]
                assert state["type"] == "COMPLETED", f"{label}: {state['type']}: {state.get('message')}"
                assert not run["auto_scheduled"]
            wait_for_scheduled_run(api, deployment["id"], scheduled_parameters)
        finally:
            for item in created:
                api.delete(f"/deployments/{deployment['id']}/schedules/{item['id']}")

    for name in ("deployed-single", "deployed-sweep-ibm", "deployed-sweep-msft", "deployed-scheduled"):
        runs = finished_runs(worker, name)
        assert len(runs) == 1, name
        assert "sharpe" in runs[0].data.metrics
        assert runs[0].data.tags["gate.passed"] in {"true", "false"}
    reports = list(worker.artifacts.rglob("gate/report.json"))
    assert len(reports) == 4, f"artifacts under {worker.artifacts}: {reports}"
