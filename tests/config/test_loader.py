"""The experiment schema and loader: every shipped file loads; malformed files give one clean line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import config_hash, flatten_config, json_schema, load_experiment, load_experiments
from pipeline.errors import ConfigError
from tests.conftest import REPO

MINIMAL = """
name: t
hypothesis: h
data: {source: sample, symbol: AAPL, timeframe: 1d, start: 2005-01-01, end: 2012-12-31}
"""


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted((REPO / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_experiment_when_loaded_is_valid(path: Path) -> None:
    configs = load_experiments(path)
    assert configs and all(c.name and c.hypothesis for c in configs)


def test_minimal_file_when_loaded_gets_defaults(tmp_path: Path) -> None:
    config = load_experiment(write(tmp_path, MINIMAL))
    assert config.target.kind == "binary"
    assert config.embargo == config.target.holding_period
    assert config.model_name == "t"
    assert config.strategy.mode == "long_flat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "target: {holding_period: 0}\n", "x.yaml: target.holding_period: must be >= 1"),
        (MINIMAL + "target: {holding_period: -3}\n", "target.holding_period: must be >= 1"),
        (MINIMAL + "target: {holding_period: five}\n", "target.holding_period"),
        (MINIMAL + "colour: blue\n", "x.yaml: colour: unknown key"),
        (MINIMAL + "model: {device: tpu}\n", "model.device: must be one of"),
        (MINIMAL + "split: {train: 0.5, validation: 0.2, test: 0.2}\n", "split: train + validation + test must sum"),
        (MINIMAL + "target: {kind: multiclass}\n", "target: multiclass needs thresholds"),
        (MINIMAL + "target: {kind: triple_barrier, profit_target: 0.02}\n", "target: triple_barrier needs stop_loss"),
        (MINIMAL + "split: {embargo: 1}\ntarget: {holding_period: 5}\n", "split.embargo (1) must be >= target"),
        ("name: t\nhypothesis: h\n", "x.yaml: data: required field is missing"),
        ("name: t\ndata: {symbol: AAPL, start: 2005-01-01, end: 2004-01-01}\nhypothesis: h\n", "data: end"),
        ("", "x.yaml: file is empty"),
        ("name: [unclosed\n", "x.yaml: invalid YAML at line"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
    ids=[
        "zero-horizon",
        "negative-horizon",
        "wrong-type",
        "unknown-key",
        "bad-literal",
        "fractions",
        "multiclass-thresholds",
        "triple-barrier-stop",
        "embargo",
        "missing-section",
        "reversed-window",
        "empty",
        "invalid-yaml",
        "not-a-mapping",
    ],
)
def test_malformed_file_when_loaded_raises_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_experiments(path)
    assert any(expected in line for line in info.value.errors), info.value.errors
    assert all("\n" not in line and line.startswith(str(path)) for line in info.value.errors)


def test_directory_when_loaded_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_experiments(tmp_path)


def test_missing_file_when_loaded_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_experiments(tmp_path / "nope.yaml")


def test_extends_when_used_merges_base_under_override(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL + "costs: {fee_bps: 5, slippage_bps: 1}\n", "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nname: child\ncosts: {fee_bps: 9}\n", "child.yaml")
    config = load_experiment(child)
    assert config.name == "child"
    assert config.costs.fee_bps == 9
    assert config.costs.slippage_bps == 1
    assert config.data.symbol == "AAPL"


def test_matrix_when_expanded_gives_one_config_per_combination(tmp_path: Path) -> None:
    text = MINIMAL + "symbols: [AAPL, IBM]\ngrid: {target.holding_period: [5, 10]}\n"
    configs = load_experiments(write(tmp_path, text))
    combos = {(c.data.symbol, c.target.holding_period) for c in configs}
    assert combos == {("AAPL", 5), ("AAPL", 10), ("IBM", 5), ("IBM", 10)}
    assert all(c.expansion for c in configs)
    assert len({config_hash(c) for c in configs}) == 4
    with pytest.raises(ConfigError, match="expands to 4 experiments"):
        load_experiment(write(tmp_path, text))


def test_config_hash_when_keys_reordered_is_stable(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, MINIMAL + "costs: {fee_bps: 1, slippage_bps: 2}\n", "a.yaml"))
    b = load_experiment(write(tmp_path, MINIMAL + "costs: {slippage_bps: 2, fee_bps: 1}\n", "b.yaml"))
    c = load_experiment(write(tmp_path, MINIMAL + "costs: {slippage_bps: 3, fee_bps: 1}\n", "c.yaml"))
    assert config_hash(a) == config_hash(b) != config_hash(c)


def test_flatten_config_when_called_gives_dotted_string_params(tmp_path: Path) -> None:
    flat = flatten_config(load_experiment(write(tmp_path, MINIMAL)))
    assert flat["target.holding_period"] == "5"
    assert flat["data.symbol"] == "AAPL"
    assert all(isinstance(v, str) for v in flat.values())


def test_shipped_json_schema_when_compared_matches_the_models() -> None:
    shipped = json.loads((REPO / "experiments" / "experiment.schema.json").read_text())
    assert shipped == json_schema()
    assert "target" in shipped["properties"] and shipped["additionalProperties"] is False
