"""Strategy: the one decision rule (signal, holding, sizing) that the backtest and the trading cycle share."""

from pipeline.strategy.decision import (
    KELLY_B_RANGE,
    KELLY_MIN_OBS,
    bar_returns,
    decided_positions,
    favourable_adverse,
    position_after,
    proba_matrix,
    target_positions,
)

__all__ = [
    "KELLY_B_RANGE",
    "KELLY_MIN_OBS",
    "bar_returns",
    "decided_positions",
    "favourable_adverse",
    "position_after",
    "proba_matrix",
    "target_positions",
]
