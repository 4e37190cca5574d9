"""The risk engine's plug-in point: a rule is one small object with one ``check`` method."""

from __future__ import annotations

import abc
import datetime as dt
import math
from dataclasses import dataclass, field

from pipeline.execution.model import OrderIntent, TradingState


@dataclass(frozen=True)
class RiskContext:
    """Everything a rule may look at for one intent (plain data, gathered by the trading cycle).

    Attributes
    ----------
    intent
        The order intent under review.
    state
        The strategy's trading state.
    now
        The cycle's clock (simulated in a replay).
    equity
        Account equity marked at the decision bar.
    position
        The strategy's current signed quantity of ``intent.symbol``.
    gross_notional
        Sum of ``|quantity * price|`` over the account's positions before the order.
    orders_today
        Orders of the strategy already sent to the broker in the current session.
    day_start_equity
        Equity at the start of the current session (the daily loss limit's base).
    other_positions
        Other strategies' signed quantities of the same symbol, by strategy.
    bar_is_session
        Whether the decision bar lies in a trading session of the instrument's calendar.
    bar_close
        When the decision bar closed.
    """

    intent: OrderIntent
    state: TradingState
    now: dt.datetime
    equity: float
    position: float
    gross_notional: float
    orders_today: int
    day_start_equity: float
    other_positions: dict[str, float] = field(default_factory=dict)
    bar_is_session: bool = True
    bar_close: dt.datetime | None = None

    @property
    def new_position(self) -> float:
        return self.position + self.intent.signed_quantity

    @property
    def reduces(self) -> bool:
        """True when the order only shrinks the position (no increase, no flip)."""
        new = self.new_position
        return abs(new) < abs(self.position) and (new == 0 or (new > 0) == (self.position > 0))


class RiskRule(abc.ABC):
    """Base of every pre-trade risk rule.

    A subclass validates its parameters in ``__init__`` (ValueError on nonsense) and implements
    :meth:`check`, returning None (pass) or a denial reason ``"CODE: detail"``. Rules never raise on a
    bad order: a denial is data (an ``OrderDenied`` event), not an exception.
    """

    code: str = ""

    @abc.abstractmethod
    def check(self, ctx: RiskContext) -> str | None:
        """Return None when ``ctx.intent`` passes, else ``"CODE: detail"``."""

    def deny(self, detail: str) -> str:
        return f"{self.code}: {detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def positive(name: str, value: float) -> float:
    """``value`` as a float, raising ValueError unless it is finite and > 0."""
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number (got {value!r})")
    return value
