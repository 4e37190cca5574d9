"""Ledger against venue: the differences, and the two explicit ways out of a mismatch halt.

The cycle's :func:`reconcile` settles in-flight orders and halts on the first difference (fail closed).
:func:`examine` lists *every* difference for ``quantgate reconcile FILE``, which has two resolutions:

- :func:`accept`: adopt the venue's state. Each position difference becomes a ledger adjustment (a
  ``PositionAdopted`` event on an order of its own, carrying who and why); each ledger order the venue
  does not know is closed as ``VENUE_LOST``. Then the strategy is ACTIVE again.
- :func:`flatten`: adopt as above, then send orders that close the venue's positions through the normal
  path (ledger write before submit, deterministic client order id), reconcile again, then ACTIVE.

Nothing here runs on its own: a halted strategy stays halted until a person asks for one of these.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from pipeline.errors import ExecutionError
from pipeline.execution.broker import BrokerReport
from pipeline.execution.model import Order, OrderFilled, OrderIntent, OrderRejected, OrderStatus, Side, TradingState
from pipeline.execution.orders import record, submit

if TYPE_CHECKING:
    from pipeline.execution.session import TradingSession

#: Quantities closer than this (relative) are equal whatever the tolerance.
RELATIVE_EPSILON = 1e-9
#: Model version written on the ledger's own adjustment and flatten orders.
RECONCILE_VERSION = "reconcile"


@dataclass(frozen=True)
class PositionAdopted(OrderFilled):
    """The ledger adopted the venue's position on ``symbol``: a fill of the difference, by a person, for a reason."""

    reason: str = ""
    by: str = ""
    ledger_quantity: float = 0.0
    venue_quantity: float = 0.0


@dataclass(frozen=True)
class Difference:
    """One disagreement between the ledger and the venue."""

    kind: str  # "position" or "order"
    symbol: str
    ledger: float = 0.0
    venue: float = 0.0
    client_order_id: str | None = None
    status: str | None = None

    def line(self) -> str:
        """The coded one-line reason (also the HALTED reason)."""
        if self.kind == "position":
            return f"POSITION_MISMATCH: ledger {self.ledger:g} {self.symbol}, venue {self.venue:g} {self.symbol}"
        return (
            f"ORDER_MISMATCH: order {self.client_order_id} ({self.symbol}) is {self.status} in the ledger "
            "but unknown to the venue"
        )


def position_differences(ours: dict[str, float], theirs: dict[str, float], tolerance: float = 0.0) -> list[Difference]:
    """Symbols whose ledger and venue quantities differ by more than ``tolerance`` (absolute), sorted.

    A symbol missing from one side is zero there: callers pass the venue's *explicit* position report
    (a failed report raises before this is reached; it is never read as flat).
    """
    out = []
    for symbol in sorted(set(ours) | set(theirs)):
        a, b = float(ours.get(symbol, 0.0)), float(theirs.get(symbol, 0.0))
        if math.isclose(a, b, rel_tol=RELATIVE_EPSILON, abs_tol=1e-12) or abs(a - b) <= tolerance:
            continue
        out.append(Difference("position", symbol, a, b))
    return out


def _tolerance(session: TradingSession) -> float:
    return float(getattr(session.trading, "reconcile_tolerance", 0.0) or 0.0)


def reconcile(session: TradingSession, bar_ts: dt.datetime | None = None) -> list[str]:
    """The cycle's check: settle in-flight orders with the broker, then compare positions; halt on any
    mismatch (fail closed).

    An order written but never sent (a crash between the ledger write and the submit) is sent now when
    it was decided on ``bar_ts`` (the bar being traded), else recorded as rejected (EXPIRED).

    Returns
    -------
    list[str]
        What was settled, one line each.

    Raises
    ------
    ExecutionError
        If the broker's positions differ from the ledger's filled quantities, or the broker does not know
        an order the ledger has in flight; the strategy is HALTED.
    """
    ledger, broker = session.ledger, session.broker
    notes = []
    for order in ledger.open_orders(session.strategy):
        report = broker.lookup(order.client_order_id)
        if report is None and order.status is OrderStatus.INITIALIZED:
            if bar_ts is not None and order.bar_ts == bar_ts:
                submit(session, order)
                notes.append(f"{order.client_order_id}: sent after a restart")
                continue
            record(ledger, order, BrokerReport(order.client_order_id, "", OrderStatus.REJECTED, reason="EXPIRED"))
            notes.append(f"{order.client_order_id}: never sent, its bar passed (EXPIRED)")
            continue
        if report is None and order.status is OrderStatus.SUBMITTED:  # sent with an unknown outcome, never booked
            reason = "NOT_AT_VENUE: the outcome was unknown and the venue has no such order"
            record(ledger, order, BrokerReport(order.client_order_id, "", OrderStatus.REJECTED, reason=reason))
            notes.append(f"{order.client_order_id}: {reason}")
            continue
        if report is None:
            cid = order.client_order_id
            halt(session, f"RECONCILE_MISMATCH: order {cid} is {order.status} but unknown to the broker")
        record(ledger, order, report)
        notes.append(f"{order.client_order_id}: {report.status}")
    ours = ledger.net_filled(session.strategy)
    theirs = {s: p.quantity for s, p in broker.positions().items()}  # explicit: a failed report raises
    for diff in position_differences(ours, theirs, _tolerance(session)):  # POSITION_MISMATCH: ledger 10, venue 12
        halt(session, diff.line())
    return notes


def halt(session: TradingSession, reason: str) -> NoReturn:
    """Persist HALTED with ``reason`` and stop the cycle."""
    session.ledger.set_state(session.strategy, TradingState.HALTED, reason)
    raise ExecutionError(
        f"strategy {session.strategy}: {reason}; halted (quantgate reconcile FILE --accept or --flatten)"
    )


def examine(session: TradingSession) -> tuple[list[Difference], list[str]]:
    """Settle what the venue can settle, then list every remaining difference (nothing is halted here).

    In-flight orders the venue reports are recorded as it reports them (the venue's word about our own
    order); an order SUBMITTED with an unknown outcome that the venue never booked is closed as
    ``NOT_AT_VENUE`` (as the cycle does); one written but never sent (INITIALIZED) is left to the next
    cycle. A working or filled order the venue does not know is a difference.

    Returns
    -------
    (differences, notes)
    """
    ledger, broker = session.ledger, session.broker
    diffs, notes = [], []
    for order in ledger.open_orders(session.strategy):
        report = broker.lookup(order.client_order_id)
        if report is None and order.status is OrderStatus.INITIALIZED:
            notes.append(f"{order.client_order_id}: written, never sent (the next cycle decides)")
            continue
        if report is None and order.status is OrderStatus.SUBMITTED:
            reason = "NOT_AT_VENUE: the outcome was unknown and the venue has no such order"
            record(ledger, order, BrokerReport(order.client_order_id, "", OrderStatus.REJECTED, reason=reason))
            notes.append(f"{order.client_order_id}: {reason}")
            continue
        if report is None:
            diffs.append(Difference("order", order.symbol, client_order_id=order.client_order_id, status=order.status))
            continue
        settled = record(ledger, order, report)
        if settled.status is not order.status or settled.filled_quantity != order.filled_quantity:
            notes.append(f"{order.client_order_id}: {settled.status}")
    ours = ledger.net_filled(session.strategy)
    theirs = {s: p.quantity for s, p in broker.positions().items()}
    diffs.extend(position_differences(ours, theirs, _tolerance(session)))
    return diffs, notes


def _adopt(session: TradingSession, diff: Difference, by: str, why: str, code: str, now: dt.datetime) -> Order:
    """Write the ledger's adjustment that brings ``diff.symbol`` to the venue's quantity."""
    delta = diff.venue - diff.ledger
    side = Side.BUY if delta > 0 else Side.SELL
    held = session.broker.positions().get(diff.symbol)
    price = held.avg_price if held is not None and held.avg_price else 0.0
    intent = OrderIntent(session.strategy, diff.symbol, side, abs(delta), now, RECONCILE_VERSION, price, 0.0)
    order, created = session.ledger.record_intent(intent)
    if not created:
        return order
    text = f"{code}: by {by}: {why}: ledger {diff.ledger:g} {diff.symbol}, venue {diff.venue:g} {diff.symbol}"
    event = PositionAdopted(
        order.client_order_id,
        session.strategy,
        now,
        RECONCILE_VERSION,
        now,
        quantity=abs(delta),
        price=price,
        fee=0.0,
        reason=text,
        by=by,
        ledger_quantity=diff.ledger,
        venue_quantity=diff.venue,
    )
    return session.ledger.apply(event, filled_quantity=abs(delta), avg_price=price or None, fee=0.0)


def _lose(session: TradingSession, diff: Difference, by: str, why: str, now: dt.datetime) -> None:
    order = session.ledger.order(diff.client_order_id)
    reason = f"VENUE_LOST: the venue does not know this order; accepted by {by}: {why}"
    event = OrderRejected(order.client_order_id, order.strategy, order.bar_ts, order.model_version, now, reason=reason)
    session.ledger.apply(event)


def _resolve(session: TradingSession, by: str, why: str, code: str, now: dt.datetime) -> list[str]:
    diffs, notes = examine(session)
    for diff in diffs:  # orders first: a lost working order changes nothing the positions already show
        if diff.kind == "order":
            _lose(session, diff, by, why, now)
            notes.append(f"{diff.client_order_id}: closed as VENUE_LOST")
    for diff in diffs:
        if diff.kind == "position":
            _adopt(session, diff, by, why, code, now)
            notes.append(f"adopted the venue's {diff.venue:g} {diff.symbol} (ledger had {diff.ledger:g})")
    return notes


def _activate(session: TradingSession, by: str, why: str, code: str, now: dt.datetime) -> list[str]:
    left, notes = examine(session)
    if left:
        raise ExecutionError(f"strategy {session.strategy}: still differs after {code}: {left[0].line()}")
    state, _, _ = session.ledger.state(session.strategy)
    session.ledger.set_state(session.strategy, TradingState.ACTIVE, f"{code}: by {by}: {why}", now)
    return [*notes, f"{session.strategy}: {state.value} -> ACTIVE"]


def accept(session: TradingSession, by: str, why: str, now: dt.datetime | None = None) -> list[str]:
    """Adopt the venue's state (recorded with ``by`` and ``why``), then make the strategy ACTIVE.

    Returns what was done, one line each. Raises ExecutionError when a difference remains.
    """
    now = now or dt.datetime.now(dt.UTC)
    notes = _resolve(session, by, why, "RECONCILE_ACCEPT", now)
    return notes + _activate(session, by, why, "RECONCILE_ACCEPT", now)


def flatten(session: TradingSession, by: str, why: str, now: dt.datetime | None = None) -> list[str]:
    """Adopt the venue's state, send orders that close every venue position of the strategy's symbols,
    reconcile, then make the strategy ACTIVE (flat). Raises ExecutionError when an order does not fill."""
    now = now or dt.datetime.now(dt.UTC)
    notes = _resolve(session, by, why, "RECONCILE_FLATTEN", now)
    held = session.broker.positions()
    wanted = set(getattr(session.trading, "symbols", None) or held)
    close_at = now + dt.timedelta(microseconds=1)  # a client order id apart from the adjustment's
    for symbol, position in sorted(held.items()):
        if symbol not in wanted or position.quantity == 0:
            continue
        side = Side.SELL if position.quantity > 0 else Side.BUY
        intent = OrderIntent(
            session.strategy, symbol, side, abs(position.quantity), close_at, RECONCILE_VERSION, position.avg_price, 0.0
        )
        order, created = session.ledger.record_intent(intent)
        sent = submit(session, order) if created else order
        line = f"{side.value} {abs(position.quantity):g} {symbol}: {sent.status.value} {sent.reason or ''}"
        notes.append(line.rstrip())
        if sent.status is not OrderStatus.FILLED:
            raise ExecutionError(
                f"strategy {session.strategy}: flatten order {sent.client_order_id} is {sent.status.value}"
                f"{' (' + sent.reason + ')' if sent.reason else ''}; still HALTED, run quantgate reconcile again"
            )
    return notes + _activate(session, by, why, "RECONCILE_FLATTEN", now)
