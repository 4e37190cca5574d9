"""What every cycle of one strategy works with: its session (ledger, broker, risk rules) and a cycle's result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from pipeline.execution.broker import Broker
from pipeline.execution.ledger import Ledger
from pipeline.execution.model import Order
from pipeline.execution.risk import (
    ContradictoryPosition,
    DailyLossLimit,
    MarketClosed,
    MaxGrossExposure,
    MaxNotionalPerOrder,
    MaxOrdersPerDay,
    MaxPositionNotional,
    MinimumQuantity,
    RiskEngine,
    StaleBar,
)
from pipeline.execution.trading_file import TradingFile
from pipeline.timeframes import bar_length

#: The model version a cycle without a Production version records.
NO_MODEL = "none"


@dataclass
class TradingSession:
    """What every cycle of one strategy works with."""

    trading: TradingFile
    ledger: Ledger
    broker: Broker
    strategy: str
    anchor: dt.datetime
    risk: RiskEngine = field(default_factory=lambda: RiskEngine([]))
    #: (model version, symbol, decision bar) -> decided fraction: a held decision is not predicted again.
    decisions: dict[tuple[str, str, pd.Timestamp], float] = field(default_factory=dict)


@dataclass(frozen=True)
class CycleResult:
    """What one cycle decided and did."""

    bar_ts: dt.datetime | None
    model_version: str
    targets: dict[str, float]
    orders: list[Order]
    equity_before: float
    skipped: str | None = None


def risk_engine(trading: TradingFile, timeframe: str) -> RiskEngine:
    """Build the risk rules the trading file asks for."""
    limits = trading.risk
    rules = []
    if limits.max_notional_per_order is not None:
        rules.append(MaxNotionalPerOrder(limits.max_notional_per_order))
    if limits.max_position_notional is not None:
        rules.append(MaxPositionNotional(limits.max_position_notional))
    if limits.max_gross_exposure is not None:
        rules.append(MaxGrossExposure(limits.max_gross_exposure))
    if limits.max_orders_per_day is not None:
        rules.append(MaxOrdersPerDay(limits.max_orders_per_day))
    if limits.daily_loss_limit is not None:
        rules.append(DailyLossLimit(limits.daily_loss_limit))
    if limits.min_quantity is not None:
        rules.append(MinimumQuantity(limits.min_quantity))
    if limits.market_hours:
        rules.append(MarketClosed())
    if limits.no_contradictory_positions:
        rules.append(ContradictoryPosition())
    stale = (
        dt.timedelta(hours=limits.stale_after_hours)
        if limits.stale_after_hours is not None
        else 4 * bar_length(timeframe).to_pytimedelta()
    )
    rules.append(StaleBar(stale))
    return RiskEngine(rules)
