"""The JSON suites in expectations/: where they are found, what they hold, and their JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import DataQualityError
from pipeline.quality import (
    EXPECTATIONS_DIR_ENV,
    default_suite_name,
    expectations_dir,
    load_suite,
    save_suite,
    suite_to_dict,
    validate_bars,
)
from tests.conftest import REPO

PRICE_CHECKS = {
    ("expect_column_values_to_not_be_null", "open"),
    ("expect_column_values_to_not_be_null", "high"),
    ("expect_column_values_to_not_be_null", "low"),
    ("expect_column_values_to_not_be_null", "close"),
    ("expect_column_pair_values_a_to_be_greater_than_b", ("high", "low")),
    ("expect_column_pair_values_a_to_be_greater_than_b", ("high", "open")),
    ("expect_column_pair_values_a_to_be_greater_than_b", ("high", "close")),
    ("expect_column_pair_values_a_to_be_greater_than_b", ("open", "low")),
    ("expect_column_pair_values_a_to_be_greater_than_b", ("close", "low")),
    ("expect_column_values_to_be_between", "volume"),
    ("expect_column_values_to_be_unique", "ts"),
    ("expect_column_values_to_be_increasing", "ts"),
    ("expect_table_row_count_to_be_between", None),
    ("expect_column_values_to_be_in_set", "on_grid"),
    ("expect_column_values_to_be_in_set", "present"),
}


def _signatures(document: dict) -> set[tuple[str, object]]:
    signatures = set()
    for expectation in document["expectations"]:
        kwargs = expectation["kwargs"]
        if "column_A" in kwargs:
            target: object = (kwargs["column_A"], kwargs["column_B"])
        else:
            target = kwargs.get("column")
        signatures.add((expectation["type"], target))
    return signatures


def test_expectations_dir_when_no_override_is_the_repo_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXPECTATIONS_DIR_ENV, raising=False)

    assert expectations_dir() == REPO / "expectations"


@pytest.mark.parametrize("asset_class", ["equity", "crypto"])
def test_suite_when_loaded_round_trips_through_json(asset_class: str) -> None:
    name = default_suite_name(asset_class)
    on_disk = json.loads((REPO / "expectations" / f"{name}.json").read_text())

    suite = load_suite(name)

    assert suite.name == name
    assert suite_to_dict(suite) == on_disk


@pytest.mark.parametrize("asset_class", ["equity", "crypto"])
def test_suite_contains_the_ohlcv_expectations(asset_class: str) -> None:
    document = suite_to_dict(load_suite(default_suite_name(asset_class)))

    signatures = _signatures(document)

    assert signatures >= PRICE_CHECKS
    volume_not_null = ("expect_column_values_to_not_be_null", "volume") in signatures
    assert volume_not_null is (asset_class == "equity")
    pairs = [e for e in document["expectations"] if "column_A" in e["kwargs"]]
    assert all(e["kwargs"]["or_equal"] is True for e in pairs)
    volume = next(e for e in document["expectations"] if e["meta"]["check"] == "volume_non_negative")
    assert volume["kwargs"]["min_value"] == 0
    checks = [e["meta"]["check"] for e in document["expectations"]]
    assert len(checks) == len(set(checks))
    grid = [e for e in document["expectations"] if e["meta"].get("frame") == "grid"]
    assert [e["meta"]["check"] for e in grid] == ["grid_coverage"]


def test_suite_when_override_dir_set_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aapl_recent: pd.DataFrame
) -> None:
    document = json.loads((REPO / "expectations" / "ohlcv_equity.json").read_text())
    row_count = next(e for e in document["expectations"] if e["meta"]["check"] == "min_rows")
    row_count["kwargs"]["min_value"] = 100_000
    (tmp_path / "ohlcv_equity.json").write_text(json.dumps(document))
    monkeypatch.setenv(EXPECTATIONS_DIR_ENV, str(tmp_path))

    report = validate_bars(aapl_recent, asset_class="equity", timeframe="1d")

    assert expectations_dir() == tmp_path
    assert [outcome.name for outcome in report.failed] == ["min_rows"]


def test_suite_when_given_as_path_is_used(tmp_path: Path, aapl_recent: pd.DataFrame) -> None:
    suite = load_suite("ohlcv_equity")
    target = save_suite(suite, tmp_path / "mine.json")

    report = validate_bars(aapl_recent, asset_class="equity", timeframe="1d", suite=target)

    assert report.success
    assert report.suite == "ohlcv_equity"


def test_suite_when_missing_raises_naming_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXPECTATIONS_DIR_ENV, str(tmp_path))

    with pytest.raises(DataQualityError, match=rf"ohlcv_crypto\.json not found.*{EXPECTATIONS_DIR_ENV}"):
        load_suite("ohlcv_crypto")


def test_suite_when_content_invalid_raises_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"name": "broken", "expectations": [{"type": "expect_no_such_thing", "kwargs": {}}]}))

    with pytest.raises(DataQualityError, match=r"broken\.json is invalid: expectation 0 \(expect_no_such_thing"):
        load_suite(path)


def test_suite_when_expectation_lacks_argument_raises_instead_of_dropping_it(tmp_path: Path) -> None:
    document = json.loads((REPO / "expectations" / "ohlcv_crypto.json").read_text())
    del document["expectations"][4]["kwargs"]["column"]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(document))

    with pytest.raises(
        DataQualityError, match=r"short\.json is invalid: expectation 4 \(expect_column_values_to_not_be_null"
    ):
        load_suite(path)


def test_suite_when_not_json_raises_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_text("{not json")

    with pytest.raises(DataQualityError, match=r"junk\.json is unreadable"):
        load_suite(path)


def test_ohlcv_columns_match_the_canonical_contract() -> None:
    from pipeline.bars import OHLCV_COLUMNS
    from pipeline.quality.validate import OHLCV_COLUMNS as QUALITY_COLUMNS

    assert QUALITY_COLUMNS == OHLCV_COLUMNS
