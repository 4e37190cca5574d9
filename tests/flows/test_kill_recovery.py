"""kill -9 of a real `quantgate run` / `quantgate sweep` at each stage, then the next command.

The test seam ``QUANTGATE_TEST_PAUSE_AT=<point>`` makes the process write a marker file and sleep at an
exact point (see :mod:`pipeline.experiment.run`); the test then SIGKILLs its process group. Afterwards:
no model version exists for an unfinished run, the next command marks the dead process's runs KILLED (so
none stays RUNNING), and it completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from pipeline.tracking import configure_mlflow
from pipeline.tracking import tags as T
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow]

EXE = str(Path(sys.executable).with_name("quantgate"))
SHORT = {"start": "2009-01-01", "end": "2012-12-31"}  # a small window: about 1000 daily bars
FAST = {
    "model": {"num_boost_round": 20, "early_stopping_rounds": 5},
    "gate": {"bootstrap_reps": 100, "leakage_cuts": 1},
}


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PREFECT_HOME for the module: its database migrations are paid once, not per command."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def env(qg_home: Path, prefect_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }


def kill_at(args: list[str], point: str, env: dict[str, str], log: Path) -> None:
    """Start ``quantgate *args`` paused at ``point``; SIGKILL its process group once it is there."""
    marker = log.with_suffix(".paused")
    paused_env = {**env, "QUANTGATE_TEST_PAUSE_AT": point, "QUANTGATE_TEST_PAUSE_MARKER": str(marker)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [EXE, *args], stdout=out, stderr=subprocess.STDOUT, env=paused_env, start_new_session=True
        )
        deadline = time.monotonic() + 400
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        reached = marker.exists()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert reached, f"never reached {point}: " + log.read_text()[-3000:]
    assert marker.read_text() == str(proc.pid)


def quantgate(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=600)


def runs_of(experiment_name: str) -> list:
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment_name)
    return client.search_runs([found.experiment_id]) if found else []


def all_running_runs() -> list:
    client = MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, "attributes.status = 'RUNNING'") if ids else []


def versions_of(model_name: str) -> list:
    return MlflowClient().search_model_versions(f"name='{model_name}'")


def assert_every_version_comes_from_a_finished_run(model_name: str) -> None:
    client = MlflowClient()
    for version in versions_of(model_name):
        assert client.get_run(version.run_id).info.status == "FINISHED", (version.version, version.run_id)


def write(folder: Path, name: str, **overrides: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    raw = experiment(name, data={**SHORT, **overrides.pop("data", {})}, **FAST, **overrides)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("point", "killed_status"),
    [("logging", "RUNNING"), ("finish", "RUNNING"), ("after_register", "FINISHED")],
)
def test_run_when_killed_at_a_stage_leaves_no_version_of_an_unfinished_run_and_the_rerun_completes(
    point: str, killed_status: str, env: dict[str, str], tmp_path: Path
) -> None:
    name = f"kill-{point.replace('_', '-')}"
    path = write(tmp_path / "exp", name)

    kill_at(["run", str(path)], point, env, tmp_path / "killed.log")

    configure_mlflow()
    (killed,) = runs_of(name)
    assert killed.info.status == killed_status
    versions = versions_of(name)
    if killed_status == "RUNNING":
        assert versions == []  # registration happens only after the run is FINISHED
    else:  # killed between registration and promotion: a version of a finished run, not in production
        (version,) = versions
        assert version.run_id == killed.info.run_id and version.current_stage == "None"

    rerun = quantgate(["run", str(path)], env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "Production" in rerun.stdout

    configure_mlflow()
    client = MlflowClient()
    assert all_running_runs() == []
    after = client.get_run(killed.info.run_id)
    if killed_status == "RUNNING":
        assert after.info.status == "KILLED"
        assert "is gone" in after.data.tags[T.REAPED_BY]
    statuses = sorted(run.info.status for run in runs_of(name))
    assert statuses == sorted([after.info.status, "FINISHED"])
    assert_every_version_comes_from_a_finished_run(name)
    production = client.get_model_version_by_alias(name, "production")
    assert client.get_run(production.run_id).info.status == "FINISHED"
    assert production.run_id != killed.info.run_id


def test_run_when_killed_on_postgres_after_logging_is_reaped_and_rerun(
    env: dict[str, str], pg_url: str, pg_mlflow_url: str, tmp_path: Path
) -> None:
    env = {**env, "QUANTGATE_DB_URL": pg_url, "MLFLOW_TRACKING_URI": pg_mlflow_url}
    name = "kill-postgres"
    path = write(tmp_path / "exp", name, data={"symbol": "MSFT"})

    kill_at(["run", str(path)], "logging", env, tmp_path / "killed.log")
    rerun = quantgate(["run", str(path)], env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]

    configure_mlflow(pg_mlflow_url)
    try:
        statuses = sorted(run.info.status for run in runs_of(name))
        assert statuses == ["FINISHED", "KILLED"]
        assert [r.info.run_id for r in all_running_runs() if r.data.tags.get(T.EXPERIMENT) == name] == []
        assert_every_version_comes_from_a_finished_run(name)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_sweep_when_killed_midway_reaps_its_parent_and_child_and_the_rerun_completes(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "sweep"
    names = ["sweep-kill-a", "sweep-kill-b", "sweep-kill-c"]
    for name, symbol in zip(names, ("AAPL", "IBM", "MSFT"), strict=True):
        write(folder, name, data={"symbol": symbol})

    kill_at(["sweep", str(folder), "--parallel", "1"], "logging:2", env, tmp_path / "killed.log")

    configure_mlflow()
    left_running = all_running_runs()
    assert len(left_running) == 2  # the sweep's parent run and the experiment it was logging
    parents = [r for r in left_running if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1

    rerun = quantgate(["sweep", str(folder), "--parallel", "1"], env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "2 run, 1 skipped, 0 failed" in rerun.stdout

    configure_mlflow()
    client = MlflowClient()
    assert all_running_runs() == []
    for run in left_running:
        assert client.get_run(run.info.run_id).info.status == "KILLED"
    for name in names:
        assert [r.info.status for r in runs_of(name)].count("FINISHED") == 1, name
        assert_every_version_comes_from_a_finished_run(name)
