"""One trading cycle per closed bar, as plain functions (``flows/trade.py`` sequences them as tasks).

reconcile (fail closed) -> resolve and pin the Production version -> bars up to the last closed bar ->
features on a trailing window -> predict -> the shared decision rule -> intents rounded to the lot ->
risk checks -> ledger write (deterministic client order id) -> submit -> record the broker's answer.

The ``backtest`` assumption is a constant-fraction portfolio: every bar the position is brought back to
the target fraction of equity (drift included), so the cycle rebalances on every bar, not only on
decision bars, and pays costs on that drift turnover; the backtest charges exactly that
(:func:`pipeline.strategy.decision.rebalancing_costs`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np
import pandas as pd

from pipeline.errors import ExecutionError
from pipeline.execution.broker import MarketBar
from pipeline.execution.ledger import Ledger
from pipeline.execution.model import OrderDenied, OrderIntent, OrderStatus, Side, TradingState
from pipeline.execution.orders import cancel_working, record, submit
from pipeline.execution.production import PinnedModel, pin_model, production_version
from pipeline.execution.reconcile import RECONCILE_VERSION, compare, halt
from pipeline.execution.risk import RiskContext
from pipeline.execution.session import NO_MODEL, CycleResult, TradingSession
from pipeline.execution.trading_file import TradingFile
from pipeline.strategy import favourable_adverse, position_after, proba_matrix
from pipeline.timeframes import bar_length, expected_grid

# ---------------------------------------------------------------------------------------------------------
# reconcile


def reconcile(session: TradingSession, bar_ts: dt.datetime | None = None) -> list[str]:
    """Settle in-flight orders with the broker, then compare orders and positions; raise on any difference
    (fail closed: :func:`pipeline.execution.reconcile.compare`, then the strategy is HALTED).

    An order written but never sent (a crash between the ledger write and the submit) is sent now when
    it was decided on ``bar_ts`` (the bar being traded), else recorded as rejected (EXPIRED).

    Returns
    -------
    list[str]
        What was settled, one line each.

    Raises
    ------
    ExecutionError
        On the first difference (``POSITION_MISMATCH``, ``ORDER_MISMATCH``, ``UNKNOWN_OPEN_ORDER``); the
        strategy is HALTED (a person's ``MANUAL_HALTED`` is kept as it is).
    """
    diffs, notes = compare(session, bar_ts, send=True)
    if diffs:
        halt(session, diffs[0].line())
    return notes


# ---------------------------------------------------------------------------------------------------------
# the cycle


def resolve_model(trading: TradingFile) -> PinnedModel | None:
    """The Production version pinned for this cycle, or None when the model has none."""
    found = production_version(trading.model)
    return None if found is None else pin_model(trading.model, *found)


def closed_bars(bars: pd.DataFrame, now: dt.datetime, timeframe: str) -> pd.DataFrame:
    """Bars whose close (open stamp + bar length) is at or before ``now``: never an unfinished bar."""
    closes = bars.index + bar_length(timeframe)
    return bars[closes <= pd.Timestamp(now)]


def decide(
    model: PinnedModel, bars: pd.DataFrame, anchor: dt.datetime, cache: dict | None = None, symbol: str = ""
) -> float:
    """The target fraction after the last bar: the shared rule on the strategy's bars since ``anchor``.

    Probabilities are predicted only at the last decision bar (features on a trailing window of
    warm-up + EWM margin bars); the rule needs nothing else from the model.
    """
    traded = bars[bars.index >= pd.Timestamp(anchor)]
    if traded.empty:
        return 0.0
    h = model.config.target.holding_period
    k = ((len(traded) - 1) // h) * h  # the last decision bar
    decision_ts = traded.index[k]
    key = (model.version, symbol, decision_ts)
    if cache is not None and key in cache:
        return cache[key]
    upto = bars[bars.index <= decision_ts]
    window = upto.iloc[-(model.history_bars + 1) :]
    proba = model.predict(window, last=True)  # only the decision bar's row is read below
    matrix = np.full((len(traded), model.config.target.n_classes), np.nan)
    if decision_ts in proba.index:
        matrix[k] = proba.loc[decision_ts].to_numpy(dtype="float64")
    matrix = proba_matrix(matrix, traded, model.config.target.n_classes)
    p_fav, p_adv = favourable_adverse(matrix, model.config.target.kind)
    close = traded["close"].astype("float64").to_numpy()
    target = position_after(p_fav[: k + 1], p_adv[: k + 1], close[: k + 1], model.config, model.periods_per_year)
    if cache is not None:
        cache[key] = target
    return target


def _round(quantity: float, lot: float) -> float:
    steps = math.floor(abs(quantity) / lot + 1e-9)
    return math.copysign(round(steps * lot, 12), quantity)


def run_cycle(
    session: TradingSession,
    now: dt.datetime,
    bars: dict[str, pd.DataFrame],
    model: PinnedModel | None,
    timeframe: str,
    asset_class: str,
) -> CycleResult:
    """Decide and trade the last closed bar of every symbol (``bars``: history up to ``now``).

    Returns
    -------
    CycleResult
        Targets and the ledger's orders of this bar (existing ones on a retry: nothing is sent twice).
    """
    ledger, broker, strategy = session.ledger, session.broker, session.strategy
    version = model.version if model is not None else NO_MODEL
    last: dict[str, pd.Series] = {}
    for symbol, frame in bars.items():
        done = closed_bars(frame, now, timeframe)
        if done.empty:
            raise ExecutionError(f"{symbol} {timeframe}: no closed bar at {now.isoformat()}")
        bars[symbol] = done
        last[symbol] = done.iloc[-1]
        row = done.iloc[-1]
        bar = MarketBar(
            done.index[-1].to_pydatetime(),
            float(row["open"]),
            float(row["close"]),
            float(row["high"]) if "high" in row.index else None,
            float(row["low"]) if "low" in row.index else None,
        )
        for report in broker.on_bar(symbol, bar):  # next_open fills of the previous bar's orders
            order = ledger.order(report.client_order_id)
            if order is not None:
                record(ledger, order, report)
    bar_ts = max(frame.index[-1] for frame in bars.values()).to_pydatetime()
    reconcile(session, bar_ts)
    state, reason, since = ledger.state(strategy)
    lifted = state is TradingState.HALTED and reason.startswith("DAILY_LOSS_LIMIT") and since is not None
    if lifted and bar_ts.date() > since.date():  # a new session lifts a daily-loss halt (since = the bar)
        ledger.set_state(strategy, TradingState.ACTIVE, "new session after DAILY_LOSS_LIMIT", now)
        state = TradingState.ACTIVE
    decided_on = {s: row.name.to_pydatetime() for s, row in last.items()}
    busy = cancel_working(session, decided_on)  # limit orders live one bar: never two orders in one direction
    prices = {s: float(row["close"]) for s, row in last.items()}
    account = broker.account()
    held = {s: p.quantity for s, p in account.positions.items()}
    equity = account.cash + sum(p.quantity * prices.get(s, p.avg_price) for s, p in account.positions.items())
    if model is None and session.trading.on_no_model == "hold":
        return CycleResult(bar_ts, version, {}, [], equity, skipped="no Production version; on_no_model=hold")
    targets = {
        s: (decide(model, frame, session.anchor, session.decisions, s) if model is not None else 0.0)
        for s, frame in bars.items()
    }
    day_start = _day_start_equity(account.cash, held, bars, bar_ts)
    orders = []
    for symbol, target in targets.items():
        ts = last[symbol].name.to_pydatetime()
        decided = [o for o in ledger.orders(strategy, since=ts, symbol=symbol) if o.bar_ts == ts]
        if decided:  # this bar was already decided (a rerun or a restart): never a second order
            orders.extend(decided)
            continue
        if symbol in busy:  # a cancel is still pending: the position may still change, decide next cycle
            continue
        price = prices[symbol]
        target_qty = _round(target * equity / price, session.trading.lot_size)
        delta = target_qty - held.get(symbol, 0.0)
        if abs(delta) < session.trading.lot_size / 2:
            continue
        side = Side.BUY if delta > 0 else Side.SELL
        limit = None
        if session.trading.order_type == "limit":  # on the passive side of the close
            limit = price * (1.0 - side.sign * session.trading.limit_offset_bps / 1e4)
        intent = OrderIntent(strategy, symbol, side, abs(delta), ts, version, price, target, limit_price=limit)
        ctx = RiskContext(
            intent=intent,
            state=state,
            now=now,
            equity=equity,
            position=held.get(symbol, 0.0),
            gross_notional=sum(abs(q) * prices.get(s, 0.0) for s, q in held.items()),
            orders_today=_orders_today(ledger, strategy, ts),
            day_start_equity=day_start,
            other_positions=_other_positions(ledger, strategy, symbol),
            bar_is_session=_in_session(ts, timeframe, asset_class),
            bar_close=ts + bar_length(timeframe).to_pytimedelta(),
        )
        denial, halts = session.risk.check(ctx)
        event = None
        if denial is not None:
            event = OrderDenied(intent.client_order_id, strategy, ts, version, now, reason=denial)
        order, created = ledger.record_intent(intent, event)
        if created and denial is not None and halts:
            ledger.set_state(strategy, TradingState.HALTED, denial, ts)
            state = TradingState.HALTED
        if created and denial is None:
            order = submit(session, order)
        orders.append(order)
    return CycleResult(bar_ts, version, targets, orders, equity)


def _orders_today(ledger: Ledger, strategy: str, bar_ts: dt.datetime) -> int:
    """Orders the strategy sent on ``bar_ts``'s day; reconciliation's own (adjustments, adoptions, flatten
    orders: model version ``reconcile``) do not count."""
    start = dt.datetime.combine(bar_ts.date(), dt.time(), dt.UTC)
    sent = {OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.FILLED, OrderStatus.REJECTED}
    return sum(1 for o in ledger.orders(strategy, since=start, statuses=sent) if o.model_version != RECONCILE_VERSION)


def _other_positions(ledger: Ledger, strategy: str, symbol: str) -> dict[str, float]:
    held = ledger.net_filled_by_strategy(symbol)  # one query, however many orders the ledger holds
    return {s: q for s, q in sorted(held.items()) if s != strategy and ".replay." not in s}


def _day_start_equity(cash: float, held: dict[str, float], bars: dict[str, pd.DataFrame], bar_ts: dt.datetime) -> float:
    """Equity with today's holdings marked at the previous session's last close (the daily loss base)."""
    day = pd.Timestamp(bar_ts).normalize()
    total = cash
    for symbol, qty in held.items():
        frame = bars.get(symbol)
        before = frame[frame.index < day] if frame is not None else None
        if before is None or before.empty:
            return 0.0  # no base: the daily loss limit cannot be judged
        total += qty * float(before["close"].iloc[-1])
    return total


@functools.lru_cache(maxsize=4096)  # the exchange calendar is fixed: a bar's answer never changes
def _in_session(ts: dt.datetime, timeframe: str, asset_class: str) -> bool:
    if asset_class != "equity":
        return True
    stamp = pd.Timestamp(ts)
    grid = expected_grid(timeframe, stamp, stamp + bar_length(timeframe), "equity")
    return stamp in grid
