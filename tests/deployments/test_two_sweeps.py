"""Scaling out: two sweep processes (two "machines": own QUANTGATE_HOME each) over one folder, sharing one
Prefect server and quantgate's and MLflow's PostgreSQL databases, run each config exactly once.

The README's "Scaling out" commands, with a real server and real processes; nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from sqlalchemy import create_engine, select

from pipeline.store.models import SweepClaim
from tests.deployments.conftest import BIN, RUN_DEADLINE_S, PrefectStack, _stop, _tail
from tests.flows.conftest import experiment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CONFIGS = [(symbol, h) for symbol in ("AAPL", "IBM", "MSFT") for h in (3, 5)]


def write_folder(folder: Path) -> list[str]:
    """Six small configs; return their experiment names."""
    folder.mkdir(parents=True)
    names = []
    for symbol, h in CONFIGS:
        name = f"split-{symbol.lower()}-h{h}"
        raw = experiment(name, data={"symbol": symbol}, target={"holding_period": h}, registry={"promote": False})
        raw["model"].update(num_boost_round=30)
        raw["gate"].update(bootstrap_reps=100, leakage_cuts=2)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        names.append(name)
    return names


def test_two_sweeps_when_splitting_one_folder_run_each_config_exactly_once(
    prefect_stack: PrefectStack, pg_url: str, pg_mlflow_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "configs"
    names = write_folder(folder)
    shared = {
        **prefect_stack.env,
        "QUANTGATE_DB_URL": pg_url,
        "MLFLOW_TRACKING_URI": pg_mlflow_url,
        "QUANTGATE_ARTIFACT_ROOT": (tmp_path / "mlartifacts").as_uri(),
    }
    init = subprocess.run(
        [str(BIN / "quantgate"), "db", "init"], cwd=tmp_path, env=shared, capture_output=True, text=True, timeout=300
    )
    assert init.returncode == 0, init.stdout + init.stderr

    processes, outputs = [], []
    for worker in ("a", "b"):
        env = {**shared, "QUANTGATE_HOME": str(tmp_path / f"home-{worker}")}
        out = (tmp_path / f"sweep-{worker}.jsonl").open("w")
        err = (tmp_path / f"sweep-{worker}.log").open("w")
        outputs.append((out, err))
        processes.append(
            subprocess.Popen(
                [str(BIN / "quantgate"), "sweep", str(folder), "--json"],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        )
    try:
        codes = [p.wait(timeout=2 * RUN_DEADLINE_S) for p in processes]
    finally:
        for process in processes:
            _stop(process)
        for out, err in outputs:
            out.close()
            err.close()
    logs = {w: _tail(tmp_path / f"sweep-{w}.log") for w in ("a", "b")}
    assert codes == [0, 0], logs

    records = [
        json.loads(line)
        for worker in ("a", "b")
        for line in (tmp_path / f"sweep-{worker}.jsonl").read_text().splitlines()
        if line.strip()
    ]
    completed = Counter(r["name"] for r in records if r["status"] == "completed")
    assert completed == Counter(names), records  # each config run by exactly one of the two sweeps
    assert Counter(r["status"] for r in records) == {"completed": len(names), "skipped": len(names)}, records

    client = MlflowClient(tracking_uri=pg_mlflow_url)
    for name in names:
        found = client.get_experiment_by_name(name)
        assert found is not None, name
        runs = client.search_runs([found.experiment_id])
        assert [r.info.status for r in runs] == ["FINISHED"], name  # one run, no duplicate started anywhere

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            claims = conn.execute(select(SweepClaim.label, SweepClaim.state, SweepClaim.owner_pid)).all()
    finally:
        engine.dispose()
    mine = [c for c in claims if Path(c.label).stem in names or c.label in names]
    assert len(mine) == len(names), claims
    assert {c.state for c in mine} == {"finished"}
    assert {c.owner_pid for c in mine} <= {p.pid for p in processes}
