"""Replay parity with non-zero costs: the backtest charges what the paper broker charges, bar by bar.

The paper broker rebalances to the target fraction on every close and pays fee and slippage on the
actual traded quantity (drift included); the backtest uses the same formula
(:func:`pipeline.strategy.decision.rebalancing_costs`), so returns agree to 1e-9, not merely to ~1e-6.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.execution.replay import replay
from pipeline.execution.trading_file import load_trading_file

pytestmark = pytest.mark.slow


def test_replay_when_fees_and_slippage_are_charged_matches_the_backtest_on_every_bar(promoted_with_costs, tmp_path):
    path = promoted_with_costs.trading_file(tmp_path, "aapl-parity-costs")
    report = replay(load_trading_file(path), dt.date(2011, 1, 1), dt.date(2012, 6, 30))
    assert report.bars >= 370
    assert report.orders > 20  # rebalancing every bar: costs are charged on real turnover
    assert report.positions_match, report.differences[:5]
    assert report.max_return_diff <= 1e-9, report.differences[:5]
    assert report.differences == []
    print(f"\nreplay with costs: max_return_diff={report.max_return_diff:.3e} over {report.bars} bars")
