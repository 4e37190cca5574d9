"""Size, exposure, frequency and loss limits."""

from __future__ import annotations

from pipeline.execution.model import TradingState
from pipeline.execution.risk._base import RiskContext, RiskRule, positive


class TradingStateRule(RiskRule):
    """HALTED sends nothing; REDUCING sends only orders that shrink the position."""

    code = "TRADING_HALTED"

    def check(self, ctx: RiskContext) -> str | None:
        if ctx.state is TradingState.HALTED:
            return self.deny("the strategy is halted")
        if ctx.state is TradingState.REDUCING and not ctx.reduces:
            return f"TRADING_REDUCING: only reducing orders allowed (position {ctx.position:g} -> {ctx.new_position:g})"
        return None


class MaxNotionalPerOrder(RiskRule):
    code = "NOTIONAL_EXCEEDS_MAX_PER_ORDER"

    def __init__(self, max_notional: float) -> None:
        self.max_notional = positive("max_notional_per_order", max_notional)

    def check(self, ctx: RiskContext) -> str | None:
        notional = ctx.intent.notional
        if notional > self.max_notional:
            return self.deny(f"max_notional={self.max_notional:g}, notional={notional:.2f}")
        return None


class MaxPositionNotional(RiskRule):
    code = "POSITION_EXCEEDS_MAX_NOTIONAL"

    def __init__(self, max_notional: float) -> None:
        self.max_notional = positive("max_position_notional", max_notional)

    def check(self, ctx: RiskContext) -> str | None:
        after = abs(ctx.new_position) * ctx.intent.reference_price
        if after > self.max_notional and not ctx.reduces:
            return self.deny(f"max_notional={self.max_notional:g}, position_notional={after:.2f}")
        return None


class MaxGrossExposure(RiskRule):
    """Gross notional of all positions after the order, as a fraction of equity."""

    code = "GROSS_EXPOSURE_EXCEEDS_MAX"

    def __init__(self, max_fraction: float) -> None:
        self.max_fraction = positive("max_gross_exposure", max_fraction)

    def check(self, ctx: RiskContext) -> str | None:
        price = ctx.intent.reference_price
        gross = ctx.gross_notional - abs(ctx.position) * price + abs(ctx.new_position) * price
        if ctx.equity <= 0:
            return None if ctx.reduces else self.deny(f"equity is {ctx.equity:.2f}")
        fraction = gross / ctx.equity
        if fraction > self.max_fraction + 1e-12 and not ctx.reduces:
            return self.deny(f"max_fraction={self.max_fraction:g}, exposure={fraction:.4f}")
        return None


class MaxOrdersPerDay(RiskRule):
    code = "MAX_ORDERS_PER_DAY"

    def __init__(self, max_orders: int) -> None:
        if isinstance(max_orders, bool) or not isinstance(max_orders, int) or max_orders < 1:
            raise ValueError(f"max_orders_per_day must be a positive integer (got {max_orders!r})")
        self.max_orders = max_orders

    def check(self, ctx: RiskContext) -> str | None:
        if ctx.orders_today >= self.max_orders:
            return self.deny(f"max_orders={self.max_orders}, sent_today={ctx.orders_today}")
        return None


class DailyLossLimit(RiskRule):
    """A session loss beyond ``max_loss`` (fraction of the session's starting equity) halts the strategy."""

    code = "DAILY_LOSS_LIMIT"
    halts = True

    def __init__(self, max_loss: float) -> None:
        self.max_loss = positive("daily_loss_limit", max_loss)

    def check(self, ctx: RiskContext) -> str | None:
        if ctx.day_start_equity <= 0:
            return None
        loss = 1.0 - ctx.equity / ctx.day_start_equity
        if loss >= self.max_loss:
            return self.deny(f"max_loss={self.max_loss:g}, session_loss={loss:.4f}; halted until the next session")
        return None


class MinimumQuantity(RiskRule):
    code = "QUANTITY_BELOW_MINIMUM"

    def __init__(self, min_quantity: float) -> None:
        self.min_quantity = positive("min_quantity", min_quantity)

    def check(self, ctx: RiskContext) -> str | None:
        if ctx.intent.quantity < self.min_quantity:
            return self.deny(f"min_quantity={self.min_quantity:g}, quantity={ctx.intent.quantity:g}")
        return None
