"""A passed quality report is reused for the same bars, suite and code; anything else validates again."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.quality import validate_bars
from pipeline.quality.cache import cache_dir, report_from_dict, validate_bars_cached

WINDOW = {"asset_class": "equity", "timeframe": "1d", "start": "2008-01-01", "end": "2012-12-31"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANTGATE_HOME", str(tmp_path))
    return tmp_path


def test_report_from_dict_when_round_tripped_is_equal(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent, **WINDOW)
    again = report_from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()
    assert again.to_markdown() == report.to_markdown()
    assert again.summary_line() == report.summary_line()
    assert again.start == report.start and again.missing == report.missing


def test_validate_bars_cached_when_same_bars_reads_the_stored_report(home: Path, aapl_recent: pd.DataFrame) -> None:
    first = validate_bars_cached(aapl_recent, **WINDOW)
    assert first.success
    [stored] = list(cache_dir().glob("*.json"))
    assert stored.is_relative_to(home)
    assert json.loads(stored.read_text()) == first.to_dict()
    # Mark the stored copy: the next call must return it (it did not validate again).
    document = json.loads(stored.read_text())
    document["notes"] = ["read from the cache"]
    stored.write_text(json.dumps(document))
    assert validate_bars_cached(aapl_recent, **WINDOW).notes == ("read from the cache",)


def test_validate_bars_cached_when_bars_or_window_differ_validates_again(home: Path, aapl_recent: pd.DataFrame) -> None:
    validate_bars_cached(aapl_recent, **WINDOW)
    changed = aapl_recent.copy()
    changed.iloc[100, changed.columns.get_loc("volume")] += 1
    validate_bars_cached(changed, **WINDOW)
    shorter = aapl_recent.loc[:"2012-06-29"]
    validate_bars_cached(shorter, **{**WINDOW, "end": "2012-06-30"})
    assert len(list(cache_dir().glob("*.json"))) == 3


def test_validate_bars_cached_when_report_fails_stores_nothing(home: Path, aapl_recent: pd.DataFrame) -> None:
    broken = aapl_recent.copy()
    broken.iloc[10, broken.columns.get_loc("high")] = broken.iloc[10]["low"] - 1.0
    assert not validate_bars_cached(broken, **WINDOW).success
    assert not cache_dir().exists() or not list(cache_dir().glob("*.json"))


def test_validate_bars_cached_when_file_unreadable_validates_again(home: Path, aapl_recent: pd.DataFrame) -> None:
    report = validate_bars_cached(aapl_recent, **WINDOW)
    [stored] = list(cache_dir().glob("*.json"))
    stored.write_text("{not json")
    assert validate_bars_cached(aapl_recent, **WINDOW).to_dict() == report.to_dict()
    assert json.loads(stored.read_text()) == report.to_dict()
