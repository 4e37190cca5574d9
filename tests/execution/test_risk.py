"""Each risk rule denies with its own code and passes what it should."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.execution.model import OrderIntent, Side, TradingState
from pipeline.execution.risk import (
    ContradictoryPosition,
    DailyLossLimit,
    MarketClosed,
    MaxGrossExposure,
    MaxNotionalPerOrder,
    MaxOrdersPerDay,
    MaxPositionNotional,
    MinimumQuantity,
    RiskContext,
    RiskEngine,
    StaleBar,
)

BAR = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def _ctx(qty: float = 10.0, side: Side = Side.BUY, **kw) -> RiskContext:
    intent = OrderIntent("s", "AAPL", side, qty, BAR, "1", reference_price=100.0, target_position=0.1)
    base = dict(
        intent=intent,
        state=TradingState.ACTIVE,
        now=BAR + dt.timedelta(days=1),
        equity=10_000.0,
        position=0.0,
        gross_notional=0.0,
        orders_today=0,
        day_start_equity=10_000.0,
        bar_close=BAR + dt.timedelta(days=1),
    )
    base.update(kw)
    return RiskContext(**base)


@pytest.mark.parametrize(
    ("rule", "ctx", "code"),
    [
        (MaxNotionalPerOrder(500.0), _ctx(), "NOTIONAL_EXCEEDS_MAX_PER_ORDER"),
        (MaxPositionNotional(1_500.0), _ctx(position=10.0), "POSITION_EXCEEDS_MAX_NOTIONAL"),
        (MaxGrossExposure(0.5), _ctx(qty=60.0), "GROSS_EXPOSURE_EXCEEDS_MAX"),
        (MaxOrdersPerDay(2), _ctx(orders_today=2), "MAX_ORDERS_PER_DAY"),
        (DailyLossLimit(0.02), _ctx(equity=9_700.0), "DAILY_LOSS_LIMIT"),
        (ContradictoryPosition(), _ctx(other_positions={"other": -5.0}), "CONTRADICTORY_POSITION"),
        (MarketClosed(), _ctx(bar_is_session=False), "MARKET_CLOSED"),
        (StaleBar(dt.timedelta(days=3)), _ctx(now=BAR + dt.timedelta(days=5)), "STALE_BAR"),
        (MinimumQuantity(20.0), _ctx(), "QUANTITY_BELOW_MINIMUM"),
    ],
)
def test_rule_check_when_limit_is_crossed_denies_with_its_code(rule, ctx, code):
    assert rule.check(ctx).split(":")[0] == code
    assert rule.check(_ctx(qty=1.0, now=BAR + dt.timedelta(days=1))) is None or code == "QUANTITY_BELOW_MINIMUM"


def test_risk_engine_when_halted_denies_before_any_rule_and_reducing_allows_only_reductions():
    engine = RiskEngine([MaxNotionalPerOrder(1e9)])
    assert engine.check(_ctx(state=TradingState.HALTED))[0].startswith("TRADING_HALTED:")
    assert engine.check(_ctx(state=TradingState.REDUCING))[0].startswith("TRADING_REDUCING:")
    assert engine.check(_ctx(state=TradingState.REDUCING, side=Side.SELL, position=20.0)) == (None, False)


def test_risk_engine_when_daily_loss_is_hit_says_it_halts():
    reason, halts = RiskEngine([DailyLossLimit(0.01)]).check(_ctx(equity=9_800.0))
    assert reason.startswith("DAILY_LOSS_LIMIT:") and halts


def test_rule_init_when_limit_is_nonsense_raises_value_error():
    with pytest.raises(ValueError, match="max_notional_per_order"):
        MaxNotionalPerOrder(-1.0)
    with pytest.raises(ValueError, match="max_orders_per_day"):
        MaxOrdersPerDay(0)
