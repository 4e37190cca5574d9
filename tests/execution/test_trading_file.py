"""Trading files: the shipped example validates; live is refused unless allowed; errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ExecutionError
from pipeline.execution.trading_file import load_trading_file, trading_schema
from tests.conftest import REPO

TRADING = REPO / "deployments" / "trading"


def test_load_trading_file_when_shipped_examples_given_accepts_them():
    files = sorted(TRADING.glob("*.yaml"))
    assert files
    for path in files:
        trading = load_trading_file(path)
        assert trading.mode == "paper" and trading.broker in ("paper", "alpaca", "binance")


def test_trading_schema_when_regenerated_equals_the_shipped_schema():
    assert json.loads((TRADING / "trading.schema.json").read_text()) == trading_schema()


def test_load_trading_file_when_live_without_env_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "live.yaml"
    path.write_text("name: live-one\nmodel: m\nmode: live\n")
    monkeypatch.delenv("QUANTGATE_ALLOW_LIVE", raising=False)
    with pytest.raises(ExecutionError, match="QUANTGATE_ALLOW_LIVE=1 is not set"):
        load_trading_file(path)
    monkeypatch.setenv("QUANTGATE_ALLOW_LIVE", "1")
    with pytest.raises(ExecutionError, match="broker is paper"):
        load_trading_file(path)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\nmodel: m\ncapital: -5\n", "capital"),
        ("name: x\nmodel: m\non_no_model: panic\n", "on_no_model"),
        ("name: x\nmodel: m\nrisk: {max_orders_per_day: 0}\n", "risk.max_orders_per_day"),
        ("name: x\nmodel: m\nflavour: 1\n", "flavour"),
    ],
)
def test_load_trading_file_when_invalid_names_the_field(tmp_path: Path, text: str, field: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExecutionError, match=f"bad.yaml: {field}:"):
        load_trading_file(path)
