"""Plot helpers return figures that render to PNG."""

from __future__ import annotations

import io

import pandas as pd

from pipeline.tracking.plots import equity_curve_figure, feature_importance_figure


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_equity_curve_figure_renders_strategy_and_benchmark() -> None:
    index = pd.date_range("2021-01-01", periods=50, freq="D", tz="UTC")
    equity = pd.Series([1.0 + 0.01 * i for i in range(50)], index=index)
    benchmark = pd.Series([1.0 + 0.005 * i for i in range(50)], index=index)
    fig = equity_curve_figure(equity, benchmark, title="AAPL momentum")
    assert fig.axes[0].get_title() == "AAPL momentum"
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["strategy", "buy & hold"]
    assert _png(fig).startswith(b"\x89PNG")


def test_feature_importance_figure_when_more_than_top_shows_top() -> None:
    importance = {f"f{i}": float(i) for i in range(30)}
    fig = feature_importance_figure(importance, top=5)
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    assert labels == ["f25", "f26", "f27", "f28", "f29"]
    assert _png(fig).startswith(b"\x89PNG")


def test_feature_importance_figure_when_empty_renders_note() -> None:
    assert _png(feature_importance_figure({})).startswith(b"\x89PNG")
