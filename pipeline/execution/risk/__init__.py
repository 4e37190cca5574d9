"""Pre-trade risk: small rules, each with one ``check`` returning a coded reason; the first denial wins."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.execution.risk._base import RiskContext, RiskRule
from pipeline.execution.risk._limits import (
    DailyLossLimit,
    MaxGrossExposure,
    MaxNotionalPerOrder,
    MaxOrdersPerDay,
    MaxPositionNotional,
    MinimumQuantity,
    TradingStateRule,
)
from pipeline.execution.risk._market import ContradictoryPosition, MarketClosed, StaleBar


class RiskEngine:
    """Run ``rules`` in order; the first that denies decides.

    Parameters
    ----------
    rules
        The rules; :class:`TradingStateRule` is always checked first.
    """

    def __init__(self, rules: Sequence[RiskRule]) -> None:
        self.rules = [TradingStateRule(), *[r for r in rules if not isinstance(r, TradingStateRule)]]

    def check(self, ctx: RiskContext) -> tuple[str | None, bool]:
        """Return ``(reason, halts)``: the first denial (or None) and whether it halts the strategy."""
        for rule in self.rules:
            reason = rule.check(ctx)
            if reason is not None:
                return reason, bool(getattr(rule, "halts", False))
        return None, False


__all__ = [
    "ContradictoryPosition",
    "DailyLossLimit",
    "MarketClosed",
    "MaxGrossExposure",
    "MaxNotionalPerOrder",
    "MaxOrdersPerDay",
    "MaxPositionNotional",
    "MinimumQuantity",
    "RiskContext",
    "RiskEngine",
    "RiskRule",
    "StaleBar",
    "TradingStateRule",
]
