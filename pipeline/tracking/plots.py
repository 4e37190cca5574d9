"""Figures logged with a run: equity curve against buy-and-hold, and feature importance.

Uses matplotlib's non-interactive Agg backend through the object API (no pyplot state, thread-safe
enough for parallel tasks), with fixed margins: a layout pass (``tight_layout``, ``bbox_inches="tight"``) draws
the figure once more and was half of its cost. Close nothing here: :meth:`RunLogger.log_figure` closes what it logs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def equity_curve_figure(
    equity: pd.Series, benchmark_equity: pd.Series | None = None, title: str = "Equity curve"
) -> Figure:
    """Plot the strategy's equity against the benchmark's (buy and hold), with the drawdown below.

    Parameters
    ----------
    equity : pandas.Series
        Strategy equity indexed by time (starts at 1.0 by convention).
    benchmark_equity : pandas.Series, optional
        Buy-and-hold equity on the same index.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        A two-panel figure (equity, drawdown).
    """
    fig = _new_figure(10, 6)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(equity.index, equity.to_numpy(dtype=float), label="strategy", color="tab:blue", linewidth=1.2)
    if benchmark_equity is not None and len(benchmark_equity):
        top.plot(
            benchmark_equity.index,
            benchmark_equity.to_numpy(dtype=float),
            label="buy & hold",
            color="tab:gray",
            linewidth=1.0,
            alpha=0.8,
        )
    top.set_title(title)
    top.set_ylabel("equity")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left")
    if len(equity):
        drawdown = equity / equity.cummax() - 1.0
        bottom.fill_between(drawdown.index, drawdown.to_numpy(dtype=float), 0.0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown")
    bottom.grid(True, alpha=0.3)
    fig.autofmt_xdate()  # rotates the dates and leaves room for them below
    fig.subplots_adjust(left=0.08, right=0.98, top=0.94, bottom=0.12, hspace=0.08)  # fixed margins: no layout pass
    return fig


def feature_importance_figure(
    importance: Mapping[str, float], top: int = 20, title: str = "Feature importance (gain)"
) -> Figure:
    """Plot the ``top`` most important features as horizontal bars, largest on top.

    Parameters
    ----------
    importance : Mapping[str, float]
        Feature name to importance (e.g. ``booster.get_score(importance_type="gain")``).
    top : int
        How many features to show.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The bar chart (an empty chart with a note when ``importance`` is empty).
    """
    ranked = sorted(importance.items(), key=lambda item: float(item[1]), reverse=True)[: max(top, 1)]
    fig = _new_figure(8, max(2.5, 0.3 * len(ranked) + 1.2))
    axes = fig.subplots()
    if ranked:
        names = [name for name, _ in reversed(ranked)]
        values = [float(value) for _, value in reversed(ranked)]
        axes.barh(names, values, color="tab:blue")
        axes.set_xlabel("importance")
    else:
        axes.text(0.5, 0.5, "no feature importance", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    axes.set_title(title)
    # Room on the left for the longest name (~0.075 in per character at 10 pt), instead of a tight_layout pass
    # (it draws the figure once more: about half of a figure's cost, ~0.1 s per run).
    longest = max((len(name) for name, _ in ranked), default=0)
    fig.subplots_adjust(
        left=min(0.6, (0.25 + 0.075 * longest) / 8),
        right=0.97,
        top=1 - 0.45 / fig.get_figheight(),
        bottom=0.5 / fig.get_figheight(),
    )
    return fig
