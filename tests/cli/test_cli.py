"""The `quantgate` command as a user meets it: exit codes and one clean line per problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantgate.cli import app
from tests.conftest import REPO

runner = CliRunner()


def quantgate(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script the way a user does."""
    exe = Path(sys.executable).with_name("quantgate")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_check_when_every_shipped_experiment_given_accepts_all() -> None:
    files = sorted(str(p) for p in (REPO / "experiments").rglob("*.yaml"))
    result = runner.invoke(app, ["check", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == len(files)


def test_check_when_files_are_malformed_prints_one_line_each_and_fails(tmp_path: Path) -> None:
    good = (REPO / "experiments" / "msft_protect.yaml").read_text()
    cases = {
        "wrong_type.yaml": good.replace("holding_period: 5", "holding_period: soon"),
        "unknown_key.yaml": good + "\nflavour: vanilla\n",
        "negative.yaml": good.replace("holding_period: 5", "holding_period: -2"),
        "missing_section.yaml": "name: x\nhypothesis: y\n",
        "invalid.yaml": "name: [oops\n",
        "empty.yaml": "",
        "unknown_group.yaml": good.replace("\ntarget:", "\nfeatures: {groups: [returns, astrology]}\ntarget:", 1),
    }
    paths = []
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    directory = tmp_path / "a_directory"
    directory.mkdir()
    result = quantgate("check", *paths, str(directory))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    for path in [*paths, str(directory)]:
        assert sum(1 for line in lines if line.startswith(path + ":")) == 1, (path, lines)
    assert any("negative.yaml: target.holding_period: must be >= 1" in line for line in lines)
    assert any("unknown_key.yaml: flavour: unknown key" in line for line in lines)
    assert any("astrology" in line for line in lines)


def test_schema_when_printed_is_the_shipped_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((REPO / "experiments" / "experiment.schema.json").read_text())


def test_run_when_config_is_bad_prints_one_line_and_exits_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nhypothesis: y\ndata: {symbol: AAPL, start: 2005-01-01, end: 2006-01-01}\nmodel: {device: gpu}\n"
    )
    result = quantgate("run", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "model.device" in result.stderr


@pytest.mark.slow
def test_ingest_and_validate_when_sample_data_used_store_and_pass(tmp_path: Path) -> None:
    env = {"QUANTGATE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    first = quantgate("ingest", "sample", "AAPL", "1d", "--start", "2005-01-01", "--end", "2012-12-31", env=env)
    assert first.returncode == 0, first.stderr
    assert "inserted 2013" in first.stdout
    again = quantgate("ingest", "sample", "AAPL", "1d", "--start", "2005-01-01", "--end", "2012-12-31", env=env)
    assert "inserted 0" in again.stdout
    report = quantgate("validate", "sample", "AAPL", "1d", "--json", env=env)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["success"] is True


def test_validate_when_nothing_stored_says_how_to_ingest(tmp_path: Path) -> None:
    result = quantgate(
        "validate", "sample", "IBM", "1d", env={"QUANTGATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 1
    assert "quantgate ingest sample IBM 1d" in result.stderr


@pytest.mark.slow
def test_run_when_default_experiment_given_prints_summary(tmp_path: Path) -> None:
    env = {"QUANTGATE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path / "prefect")}
    result = quantgate("run", str(REPO / "experiments" / "msft_protect.yaml"), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    for expected in (
        "msft-protect",
        "sample:MSFT 1d",
        "tier 1 sanity",
        "tier 3 statistics",
        "buy & hold",
        "mlflow ui --backend-store-uri",
        "registry",
    ):
        assert expected in result.stdout, (expected, result.stdout)
    assert (tmp_path / "home" / "mlflow.db").exists()
