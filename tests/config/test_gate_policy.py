"""The gate policy: shipped floors, hypotheses may tighten but never loosen, and the leakage cuts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import load_experiment
from pipeline.config._policy import DEFAULT_POLICY_PATH, POLICY_ENV, load_policy
from pipeline.errors import ConfigError

BASE = {
    "name": "policy-test",
    "hypothesis": "policy test",
    "data": {"source": "sample", "symbol": "AAPL", "timeframe": "1d", "start": "2006-01-01", "end": "2012-12-31"},
}


@pytest.fixture
def shipped_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY_ENV, str(DEFAULT_POLICY_PATH))


def write(tmp_path: Path, gate: dict) -> Path:
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump({**BASE, "gate": gate}))
    return path


def test_shipped_policy_is_valid_and_strict(shipped_policy: None) -> None:
    policy = load_policy()
    assert policy.floors.min_psr == 0.95 and policy.floors.leakage_cuts >= 5
    assert policy.floors.require_beat_buy_and_hold is True and len(policy.sha256) == 16


@pytest.mark.parametrize(
    ("field", "value", "floor"),
    [
        ("min_psr", 0.0, "0.95"),
        ("min_dsr", 0.5, "0.95"),
        ("max_bootstrap_pvalue", 1.0, "0.1"),
        ("leakage_cuts", 1, "5"),
        ("require_beat_buy_and_hold", False, "True"),
        ("min_coverage", 0.5, "0.98"),
    ],
)
def test_looser_value_is_refused_naming_file_field_and_floor(
    shipped_policy: None, tmp_path: Path, field: str, value: object, floor: str
) -> None:
    path = write(tmp_path, {field: value})
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and f"gate.{field}" in message and floor in message
    assert str(DEFAULT_POLICY_PATH) in message


def test_tighter_values_are_accepted_and_unset_fields_take_the_policy(shipped_policy: None, tmp_path: Path) -> None:
    config = load_experiment(write(tmp_path, {"min_psr": 0.99, "max_bootstrap_pvalue": 0.05, "leakage_cuts": 9}))
    assert (config.gate.min_psr, config.gate.max_bootstrap_pvalue, config.gate.leakage_cuts) == (0.99, 0.05, 9)
    assert config.gate.min_dsr == 0.95


def test_policy_file_override_changes_the_floors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    raw["min_psr"] = 0.5
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv(POLICY_ENV, str(policy_file))
    assert load_experiment(write(tmp_path, {})).gate.min_psr == 0.5
    assert load_experiment(write(tmp_path, {"min_psr": 0.6})).gate.min_psr == 0.6


def test_incomplete_policy_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("min_psr: 0.9\n")
    monkeypatch.setenv(POLICY_ENV, str(policy_file))
    with pytest.raises(ConfigError, match="must set every gate field"):
        load_experiment(write(tmp_path, {}))


def test_leakage_cuts_are_random_per_config_plus_boundaries(shipped_policy: None, tmp_path: Path) -> None:
    from pipeline.experiment.gate import leakage_cuts

    bars = pd.DataFrame({"close": range(500)}, index=pd.date_range("2020-01-01", periods=500, freq="D", tz="UTC"))
    a = load_experiment(write(tmp_path, {}))
    b = load_experiment(write(tmp_path, {"min_psr": 0.97}))
    cuts_a = leakage_cuts(a, bars, warmup=50)
    assert cuts_a == leakage_cuts(a, bars, warmup=50)  # seeded: reproducible per run config
    assert len(cuts_a) >= a.gate.leakage_cuts
    assert bars.index[50] in cuts_a and bars.index[498] in cuts_a  # boundaries
    assert cuts_a != leakage_cuts(b, bars, warmup=50)  # another config draws other bars


def test_walk_forward_with_tuning_is_refused_at_check_time(tmp_path: Path) -> None:
    raw = {
        **BASE,
        "split": {"method": "walk_forward", "folds": 3, "train_bars": 500, "test_bars": 200},
        "tuning": {"trials": 5, "search_space": {"max_depth": {"type": "int", "low": 2, "high": 4}}},
    }
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"cannot be combined with split\.method walk_forward") as info:
        load_experiment(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
