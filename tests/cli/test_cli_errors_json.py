"""One line per error by default, and `--json` output that a script can parse from stdout alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from quantgate.cli import app

runner = CliRunner()

KEYS = {"config", "run_id", "gate_passed", "failed_rules", "metrics", "model_version", "model_stage"}

LENIENT_GATE = {
    "min_holding_periods": 0,
    "min_total_return": -10.0,
    "min_sharpe": -10.0,
    "win_rate_min": 0.0,
    "win_rate_max": 1.0,
    "require_beat_buy_and_hold": False,
    "min_psr": 0.0,
    "min_dsr": 0.0,
    "max_bootstrap_pvalue": 1.0,
    "min_coverage": 0.9,
    "bootstrap_reps": 200,
    "leakage_cuts": 3,
}


def _experiment(folder: Path, name: str, symbol: str = "AAPL", gate: dict | None = None) -> Path:
    """A small, fast experiment on the embedded sample data."""
    raw = {
        "name": name,
        "hypothesis": "json output is parseable",
        "data": {"source": "sample", "symbol": symbol, "timeframe": "1d", "start": "2008-01-01", "end": "2012-12-31"},
        "target": {"kind": "binary", "holding_period": 5},
        "features": {"groups": ["returns", "volatility"]},
        "model": {"device": "cpu", "num_boost_round": 30, "early_stopping_rounds": 10, "params": {"nthread": 1}},
        "gate": gate if gate is not None else LENIENT_GATE,
        "registry": {"promote": True},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QUANTGATE_DB_URL", "MLFLOW_TRACKING_URI")}
    env.update(
        QUANTGATE_HOME=str(tmp_path / "home"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        # The 2-core test machine can be slow to start Prefect's ephemeral server; this is not a speed target.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300",
    )
    return env


def quantgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("quantgate")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=900)


def test_ingest_when_timeframe_unknown_prints_one_line(tmp_path: Path, qg_home: Path) -> None:
    result = runner.invoke(app, ["ingest", "sample", "AAPL", "2h", "--start", "2020-01-01", "--end", "2020-02-01"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1
    assert lines == ["error: timeframe: unknown timeframe '2h'; expected one of 1m, 5m, 15m, 1h, 4h, 1d"]


def test_command_when_an_unexpected_error_occurs_prints_one_line_and_logs_the_traceback(qg_home: Path) -> None:
    # An unparseable date reaches pandas; whatever raises, the user sees one line and no traceback.
    result = runner.invoke(app, ["ingest", "sample", "AAPL", "1d", "--start", "not-a-date", "--end", "2020-02-01"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    if "unexpected" in lines[0]:
        log = qg_home / "logs" / "errors.log"
        assert str(log) in lines[0]
        assert "Traceback" in log.read_text()


def test_run_when_feature_params_are_bad_fails_before_prefect_with_one_line(tmp_path: Path, qg_home: Path) -> None:
    path = _experiment(tmp_path, "bad-window")
    raw = yaml.safe_load(path.read_text())
    raw["features"]["params"] = {"volatility": {"fast": 0}}
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["run", "--json", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "features: feature group volatility failed: ValueError: fast must be an integer >= 1" in lines[0]


@pytest.mark.slow
def test_run_json_when_experiment_finishes_prints_one_parseable_object(tmp_path: Path) -> None:
    path = _experiment(tmp_path, "json-run")
    result = quantgate("run", "--json", str(path), env=_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout)  # stdout holds exactly one JSON document and nothing else
    assert set(record) >= KEYS
    assert record["config"] == str(path)
    assert record["gate_passed"] is True
    assert record["failed_rules"] == []
    assert isinstance(record["metrics"]["sharpe"], float)
    assert len(record["run_id"]) == 32
    assert record["model_version"] == "1"
    assert record["model_stage"] == "Production"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sweep_json_when_run_twice_prints_one_object_per_experiment_each_time(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    folder.mkdir()
    strict = dict(LENIENT_GATE, min_sharpe=50.0)  # fails tier 2: a failed rule and no model version
    passing = _experiment(folder, "json-pass")
    failing = _experiment(folder, "json-fail", symbol="IBM", gate=strict)
    env = _env(tmp_path)
    first = quantgate("sweep", "--json", str(folder), env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    records = {r["config"]: r for r in map(json.loads, first.stdout.splitlines())}
    assert set(records) == {str(passing), str(failing)}
    assert all(set(r) >= KEYS for r in records.values())
    assert records[str(passing)]["gate_passed"] is True
    assert records[str(passing)]["model_stage"] == "Production"
    assert records[str(failing)]["gate_passed"] is False
    assert "sharpe" in records[str(failing)]["failed_rules"]
    assert records[str(failing)]["model_version"] is None and records[str(failing)]["model_stage"] is None

    second = quantgate("sweep", "--json", str(folder), env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    again = {r["config"]: r for r in map(json.loads, second.stdout.splitlines())}
    assert {r["status"] for r in again.values()} == {"skipped"}
    for config, record in records.items():
        assert again[config]["run_id"] == record["run_id"]
        assert again[config]["gate_passed"] == record["gate_passed"]
        assert sorted(again[config]["failed_rules"]) == sorted(record["failed_rules"])
        assert again[config]["model_version"] == record["model_version"]


@pytest.mark.slow
def test_run_when_a_stage_fails_prints_one_line_and_tracebacks_only_when_verbose(tmp_path: Path) -> None:
    path = _experiment(tmp_path, "unknown-symbol", symbol="NOPE")  # the sample source refuses it at run time
    env = _env(tmp_path)
    quiet = quantgate("run", str(path), env=env)
    assert quiet.returncode == 1
    lines = [line for line in (quiet.stdout + quiet.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "sample: unknown symbol NOPE" in lines[0]

    loud = quantgate("run", "--verbose", str(path), env=env)
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr
    errors = [line for line in loud.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "sample: unknown symbol NOPE" in errors[0], errors


def test_sweep_when_every_file_is_bad_exits_1_without_an_unexpected_error(tmp_path: Path, qg_home: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: [unclosed\n")
    result = runner.invoke(app, ["sweep", str(folder)])
    assert result.exit_code == 1
    assert "skipped bad file:" in result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
