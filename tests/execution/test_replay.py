"""Replay drives the real trading cycle over a year of daily bars and reproduces the backtest."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.execution.replay import replay
from pipeline.execution.trading_file import load_trading_file

pytestmark = pytest.mark.slow


def test_replay_when_backtest_fill_model_matches_the_backtest_on_every_bar(promoted, tmp_path):
    trading = load_trading_file(promoted.trading_file(tmp_path, "aapl-parity"))
    report = replay(trading, dt.date(2011, 1, 1), dt.date(2012, 6, 30))
    print(report.to_dict()["parity"]["max_return_diff"], report.bars, report.orders, report.differences[:3])
    assert report.bars >= 370
    assert report.model_version == promoted.version
    assert report.orders > 0
    assert report.positions_match, report.differences[:5]
    assert report.max_return_diff <= 1e-9, report.differences[:5]
