"""Sweeps: a folder of experiments, N at a time, resumable after a kill, trial-aware, with a leaderboard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from flows.sweep import run_sweep
from pipeline.sweep import discover, leaderboard, sweep_family
from pipeline.tracking import configure_mlflow
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow]


def make_folder(root: Path, symbols: tuple[str, ...] = ("AAPL", "IBM", "MSFT")) -> Path:
    folder = root / "sweep"
    (folder / "nested").mkdir(parents=True)
    for i, symbol in enumerate(symbols):
        raw = experiment(f"sweep-{symbol.lower()}", data={"symbol": symbol}, registry={"promote": False})
        target = folder / "nested" if i == 0 else folder
        (target / f"{symbol.lower()}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def test_discover_when_folder_has_bad_and_matrix_files_reports_and_expands(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "broken.yaml").write_text("name: [oops\n")
    matrix = experiment("sweep-matrix")
    matrix["symbols"] = ["AAPL", "GOOG"]
    (folder / "matrix.yaml").write_text(yaml.safe_dump(matrix, sort_keys=False))
    plan = discover(folder)
    assert len(plan.items) == 5
    assert len(plan.errors) == 1 and "broken.yaml: invalid YAML" in plan.errors[0]
    assert {i.config.data.symbol for i in plan.items if i.config.name == "sweep-matrix"} == {"AAPL", "GOOG"}
    assert plan.family == sweep_family(folder)


@pytest.mark.usefixtures("prefect_harness")
def test_sweep_when_run_twice_completes_then_skips_everything_and_counts_trials(
    sqlite_stores: Path, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    (folder / "broken.yaml").write_text("just: [a, bad\n")
    seen: list[str] = []
    first = run_sweep(str(folder), parallel=2, on_result=lambda r: seen.append(r.status))
    assert sorted(seen) == ["completed"] * 3
    assert first.count("completed") == 3 and len(first.bad_files) == 1
    assert len(first.leaderboard) == 3
    assert set(first.leaderboard["symbol"]) == {"AAPL", "IBM", "MSFT"}
    for result in first.results:
        assert result.outcome is not None
        assert result.outcome.n_trials >= 3
        assert "sweep family" in result.outcome.n_trials_source
    configure_mlflow()
    client = MlflowClient()
    child = client.get_run(first.results[0].run_id)
    assert child.data.tags["mlflow.parentRunId"] == first.run_id
    assert child.data.tags["gate.n_trials"] == "3"
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "sweep")}
    assert "sweep/leaderboard.csv" in artifacts

    second = run_sweep(str(folder), parallel=2)
    assert second.count("skipped") == 3 and second.count("completed") == 0
    assert {r.run_id for r in second.results} == {r.run_id for r in first.results}
    forced = run_sweep(str(folder), parallel=1, force=True)
    assert forced.count("completed") == 3
    assert len(leaderboard(family=first.family, limit=100)) == 3  # one row per config + data: the latest


def test_sweep_when_killed_midway_and_rerun_completes_only_the_missing(sqlite_stores: Path, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    exe = str(Path(sys.executable).with_name("quantgate"))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [exe, "sweep", str(folder), "--parallel", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("done "):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert any(line.startswith("done ") for line in lines), "".join(lines)[-3000:]
    rerun = subprocess.run(
        [exe, "sweep", str(folder), "--parallel", "2"], capture_output=True, text=True, env=env, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    out = rerun.stdout
    assert out.count("skip ") == 1, out
    assert out.count("done ") == 2, out
    assert "2 run, 1 skipped, 0 failed" in out
    configure_mlflow()
    board = leaderboard(family=sweep_family(folder), limit=100)
    assert sorted(board["symbol"]) == ["AAPL", "IBM", "MSFT"]


@pytest.mark.postgres
def test_sweep_when_two_processes_share_a_folder_runs_each_config_once(
    postgres_stores: tuple[str, str], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    folder = tmp_path / "shared"
    folder.mkdir()
    names = [f"race-{tag}-{symbol.lower()}" for symbol in ("AAPL", "IBM", "MSFT")]
    for name, symbol in zip(names, ("AAPL", "IBM", "MSFT"), strict=True):
        raw = experiment(name, data={"symbol": symbol}, registry={"promote": False})
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    exe = str(Path(sys.executable).with_name("quantgate"))
    procs = [
        subprocess.Popen(
            [exe, "sweep", str(folder), "--parallel", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={
                **os.environ,
                "PREFECT_HOME": str(tmp_path / f"prefect{i}"),
                # two temporary Prefect servers migrating at once on two cores need more than the 20 s default
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
                "COLUMNS": "200",
            },
        )
        for i in range(2)
    ]
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n---\n".join(o[-3000:] for o in outputs)
    both = "".join(outputs)
    assert both.count("done ") == 3 and both.count("skip ") == 3, both
    configure_mlflow()
    client = MlflowClient()
    for name in names:
        experiment_id = client.get_experiment_by_name(name).experiment_id
        runs = client.search_runs([experiment_id])
        assert [run.info.status for run in runs] == ["FINISHED"], (name, both)
