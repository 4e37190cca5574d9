"""QualityReport rendering, raise_for_failure, and how Great Expectations is run (lazily, quietly, in memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import DataQualityError
from pipeline.quality import QualityReport, raise_for_failure, validate_bars
from tests.conftest import REPO

TS = pd.Timestamp("2010-06-08", tz="UTC")


@pytest.fixture(scope="module")
def failing(aapl_recent: pd.DataFrame) -> QualityReport:
    bars = aapl_recent.copy()
    bars.loc[TS, "high"] = bars.loc[TS, "low"] * 0.9
    return validate_bars(bars.drop(pd.Timestamp("2010-06-09", tz="UTC")), asset_class="equity", timeframe="1d")


@pytest.fixture(scope="module")
def passing(aapl_recent: pd.DataFrame) -> QualityReport:
    return validate_bars(aapl_recent, asset_class="equity", timeframe="1d")


def test_to_dict_when_failed_is_json_and_names_the_failures(failing: QualityReport) -> None:
    payload = json.loads(json.dumps(failing.to_dict(), allow_nan=False))

    assert payload["success"] is False
    assert set(payload["failed"]) == {"high_ge_low", "high_ge_open", "high_ge_close", "grid_coverage"}
    assert payload["missing"] == ["2010-06-09T00:00:00+00:00"]
    high_low = next(result for result in payload["results"] if result["check"] == "high_ge_low")
    assert high_low["expectation"] == "expect_column_pair_values_a_to_be_greater_than_b"
    assert high_low["examples"][0]["ts"] == TS.isoformat()
    assert len(payload["results"]) == len(failing.results)


def test_to_markdown_when_failed_shows_the_failing_expectation(failing: QualityReport) -> None:
    markdown = failing.to_markdown()

    assert "FAILED" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| high_ge_low "))
    assert "**FAIL**" in row and "expect_column_pair_values_a_to_be_greater_than_b" in row
    assert f"ts={TS.isoformat()}" in row
    assert "Missing bars (first 1): 2010-06-09T00:00:00+00:00" in markdown
    assert markdown.count("\n| ") == len(failing.results) + 1  # header + one row per expectation


def test_summary_line_when_passed_is_one_line(passing: QualityReport) -> None:
    line = passing.summary_line()

    assert "\n" not in line
    assert line.startswith("ohlcv_equity [equity 1d]: PASSED 20/20 expectations")
    assert "coverage 100.00%" in line


def test_raise_for_failure_when_failed_raises_one_line_naming_series_and_checks(failing: QualityReport) -> None:
    with pytest.raises(DataQualityError) as caught:
        raise_for_failure(failing, "AAPL 1d (sample)")

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("AAPL 1d (sample): bars failed data-quality suite ohlcv_equity")
    for check in ("high_ge_low", "grid_coverage"):
        assert check in message
    assert TS.isoformat() in message


def test_raise_for_failure_when_passed_returns_the_report(passing: QualityReport) -> None:
    assert raise_for_failure(passing, "AAPL 1d") is passing


def test_report_is_frozen(passing: QualityReport) -> None:
    with pytest.raises(AttributeError):
        passing.success = False  # type: ignore[misc]


def test_outcome_when_unknown_check_raises_key_error(passing: QualityReport) -> None:
    with pytest.raises(KeyError, match="no_such_check"):
        passing.outcome("no_such_check")


def test_import_when_quality_imported_does_not_import_great_expectations() -> None:
    code = "import sys, pipeline.quality; print('great_expectations' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    assert done.stdout.strip() == "False"


def test_validate_bars_writes_no_files_and_no_progress_bars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], aapl_recent: pd.DataFrame
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(path.name for path in REPO.iterdir())

    validate_bars(aapl_recent, asset_class="equity", timeframe="1d")

    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err
    assert list(tmp_path.iterdir()) == []
    assert sorted(path.name for path in REPO.iterdir()) == before
