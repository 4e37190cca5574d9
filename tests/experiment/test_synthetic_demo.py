"""The shipped SYNTHETIC demonstration: its data file is what the seeded generator writes, and the hypothesis
passes the default gate and reaches Production from a fresh home."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DEMO = REPO / "experiments" / "demo" / "synthetic_weekday.yaml"
DEMO_DATA = REPO / "data" / "synthetic" / "weekday_demo.csv"


def _benchmark(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(f"qg_bench_{name}", REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


def _synthetic():
    return _benchmark("synthetic")


def test_gate_power_hypotheses_when_written_load_as_file_source_experiments_without_a_gate_section(tmp_path):
    import yaml

    from pipeline.config import load_experiment

    power = _benchmark("gate_power")
    symbols = set()
    for kind in power.KINDS:
        raw = power.hypothesis(kind, "ar1", 7, tmp_path / "ar1_7.csv", "2000-01-01", "2019-12-31")
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(raw))
        config = load_experiment(path)
        # one symbol per (series, kind): no benchmark run inherits another's trials (its own data family)
        expected = f"SYN-{kind}-AR1-7".upper().replace("_", "-")
        assert (config.data.source, config.data.path, config.data.symbol) == (
            "file",
            str(tmp_path / "ar1_7.csv"),
            expected,
        )
        assert "SYNTHETIC" in config.hypothesis and "gate" not in raw
        assert config.split.method == ("walk_forward" if kind == "protect_wf" else "chronological")
        symbols.add(config.data.symbol)
    assert len(symbols) == len(power.KINDS)


def test_demo_data_when_regenerated_from_its_seed_is_byte_identical(tmp_path):
    synthetic = _synthetic()
    written = synthetic.write_csv(synthetic.demo_bars(), tmp_path / "demo.csv")
    assert written.read_bytes() == DEMO_DATA.read_bytes()


def test_synthetic_family_when_generated_twice_with_one_seed_is_identical_and_seeds_differ():
    synthetic = _synthetic()
    a = synthetic.daily_bars("strong_regime", 3, "2010-01-01", "2011-12-31")
    b = synthetic.daily_bars("strong_regime", 3, "2010-01-01", "2011-12-31")
    c = synthetic.daily_bars("strong_regime", 4, "2010-01-01", "2011-12-31")
    assert a.equals(b) and not a.equals(c)
    assert (a["high"] >= a[["open", "close"]].max(axis=1)).all()
    assert (a["low"] <= a[["open", "close"]].min(axis=1)).all()


@pytest.mark.slow
def test_demo_hypothesis_when_run_from_a_fresh_home_passes_the_gate_and_reaches_production(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("quantgate")
    env = {"QUANTGATE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path / "prefect")}
    result = subprocess.run(
        [str(exe), "run", str(DEMO), "--json"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout)
    assert outcome["failed_rules"] == [], outcome["failed_rules"]
    assert outcome["gate_passed"] is True
    assert outcome["model_stage"] == "Production"
