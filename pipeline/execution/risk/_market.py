"""Market-state rules: the exchange is closed, or the bar is stale; and other strategies' positions."""

from __future__ import annotations

import datetime as dt

from pipeline.execution.risk._base import RiskContext, RiskRule


class MarketClosed(RiskRule):
    """The decision bar is not in a trading session of the instrument's exchange calendar."""

    code = "MARKET_CLOSED"

    def check(self, ctx: RiskContext) -> str | None:
        if not ctx.bar_is_session:
            return self.deny(f"bar {ctx.intent.bar_ts.isoformat()} is not in a trading session")
        return None


class StaleBar(RiskRule):
    """The decision bar closed longer than ``max_age`` before the cycle's clock."""

    code = "STALE_BAR"

    def __init__(self, max_age: dt.timedelta) -> None:
        if not isinstance(max_age, dt.timedelta) or max_age <= dt.timedelta(0):
            raise ValueError(f"stale bar max_age must be a positive duration (got {max_age!r})")
        self.max_age = max_age

    def check(self, ctx: RiskContext) -> str | None:
        closed = ctx.bar_close or ctx.intent.bar_ts
        age = ctx.now - closed
        if age > self.max_age:
            return self.deny(f"bar closed {closed.isoformat()}, {age} before now (max {self.max_age})")
        if age < dt.timedelta(0):
            return f"BAR_NOT_CLOSED: bar closes {closed.isoformat()}, after now {ctx.now.isoformat()}"
        return None


class ContradictoryPosition(RiskRule):
    """Another strategy holds the opposite side of the same symbol."""

    code = "CONTRADICTORY_POSITION"

    def check(self, ctx: RiskContext) -> str | None:
        new = ctx.new_position
        if new == 0:
            return None
        for strategy, quantity in sorted(ctx.other_positions.items()):
            if quantity != 0 and (quantity > 0) != (new > 0):
                return self.deny(
                    f"strategy {strategy} holds {quantity:g} {ctx.intent.symbol}, this order makes {new:g}"
                )
        return None
