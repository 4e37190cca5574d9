"""`quantgate halt|resume|orders|positions` on the embedded default, without a model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.execution.ledger import Ledger
from pipeline.execution.model import TradingState
from pipeline.store import ensure_schema
from quantgate.cli import app

runner = CliRunner()


def test_halt_when_reducing_given_sets_reducing_and_resume_makes_it_active(qg_home: Path, tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text("name: cli-state\nmodel: m\n")
    result = runner.invoke(app, ["halt", str(path), "--reason", "earnings", "--reducing"])
    assert result.exit_code == 0, result.output
    state, reason, since = Ledger(ensure_schema()).state("cli-state")
    assert state is TradingState.REDUCING and reason == "MANUAL_REDUCING: earnings" and since is not None
    assert runner.invoke(app, ["halt", str(path), "--reason", "x"]).exit_code == 0
    assert Ledger(ensure_schema()).state("cli-state")[0] is TradingState.HALTED
    assert runner.invoke(app, ["resume", str(path)]).exit_code == 0
    assert Ledger(ensure_schema()).state("cli-state")[0] is TradingState.ACTIVE
    assert json.loads(runner.invoke(app, ["orders", "--json"]).stdout) == []


def test_trade_when_file_is_invalid_prints_one_line_naming_the_field(qg_home: Path, tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodel: m\ncapital: -1\n")
    result = runner.invoke(app, ["trade", str(path), "--once"])
    assert result.exit_code == 1
    assert "bad.yaml: capital:" in result.output and "Traceback" not in result.output
