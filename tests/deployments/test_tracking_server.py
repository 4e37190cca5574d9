"""A team's MLflow: `quantgate db init --mlflow-db`, then `mlflow server` on PostgreSQL with proxied artifacts;
a `quantgate run` pointed at it over HTTP writes its artifacts into the server's destination, not its own disk."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import PG_ADMIN_URL, _drop_database
from tests.deployments.conftest import BIN, _stop, _tail, free_port
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SERVER_START_DEADLINE_S = 120


@pytest.fixture
def mlflow_database() -> Iterator[str]:
    """The URL of a PostgreSQL database that does not exist yet (dropped afterwards)."""
    name = f"qg_mlflow_server_{uuid.uuid4().hex[:8]}"
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _drop_database(name)


def test_tracking_server_when_a_run_logs_over_http_stores_artifacts_in_the_server_destination(
    mlflow_database: str, pg_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "QUANTGATE_DB_URL": pg_url, "QUANTGATE_HOME": str(tmp_path / "client_home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    init = subprocess.run(
        [str(BIN / "quantgate"), "db", "init", "--mlflow-db", mlflow_database],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert "MLflow database" in init.stdout and "created" in init.stdout

    port = free_port()
    destination = tmp_path / "team_artifacts"
    log = tmp_path / "mlflow_server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                str(BIN / "mlflow"), "server",
                "--backend-store-uri", mlflow_database,
                "--artifacts-destination", destination.as_uri(),
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            ],
            env={**env, "PATH": f"{BIN}:{env.get('PATH', '')}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    tracking = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + SERVER_START_DEADLINE_S
        while True:
            assert server.poll() is None, f"mlflow server exited:\n{_tail(log)}"
            try:
                if httpx.get(f"{tracking}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < end, f"mlflow server not up after {SERVER_START_DEADLINE_S}s:\n{_tail(log)}"
            time.sleep(1)

        config = tmp_path / "team-run.yaml"
        raw = experiment("team-run", registry={"promote": False})
        raw["gate"].update(bootstrap_reps=100, leakage_cuts=2)
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        run = subprocess.run(
            [str(BIN / "quantgate"), "run", str(config)],
            env={**env, "MLFLOW_TRACKING_URI": tracking},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

        runs = MlflowClient(tracking_uri=tracking).search_runs(
            [MlflowClient(tracking_uri=tracking).get_experiment_by_name("team-run").experiment_id]
        )
        assert len(runs) == 1 and runs[0].info.artifact_uri.startswith("mlflow-artifacts:")
        reports = list(destination.rglob("gate/report.json"))
        assert len(reports) == 1 and runs[0].info.run_id in str(reports[0])
        assert not (tmp_path / "client_home" / "mlartifacts").exists()
    finally:
        _stop(server)
