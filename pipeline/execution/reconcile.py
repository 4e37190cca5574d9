"""Ledger against venue: the differences, and the two explicit ways out of a mismatch halt.

:func:`compare` settles what the venue can settle and lists *every* difference: a position the ledger
and the venue disagree on, a working ledger order the venue no longer has, and a venue open order the
ledger does not know. The cycle's :func:`pipeline.execution.cycle.reconcile` halts on the first one (fail
closed, :func:`halt`); ``quantgate reconcile FILE`` prints them all. Its two resolutions:

- :func:`accept`: adopt the venue's state. Each venue open order the ledger does not know is written to
  the ledger under its own client order id (an ``OrderAdopted`` event with who and why; its fills so far
  follow); each ledger order the venue does not know is closed as ``VENUE_LOST``; each position difference
  left becomes a ledger adjustment (a ``PositionAdopted`` event on an order of its own). Then a halt these
  differences caused is lifted.
- :func:`flatten`: adopt as above, then send orders that close the venue's positions through the normal
  path (ledger write before submit, deterministic client order id), reconcile again, then lift the halt.

Neither lifts a halt of another kind: a person's ``quantgate halt`` (``MANUAL_HALTED``) or a risk halt
(``DAILY_LOSS_LIMIT``) stays until ``quantgate resume`` (or, for the daily loss, the next session); a
difference found while such a halt holds is reported without replacing its reason. Orders written here (model version
``reconcile``) do not count toward ``max_orders_per_day``. Nothing here runs on its own: a halted
strategy stays halted until a person asks for one of these.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import ExecutionError
from pipeline.execution.broker import BrokerReport, VenueOrder
from pipeline.execution.model import (
    TERMINAL,
    Order,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderRejected,
    OrderStatus,
    Side,
    TradingState,
)
from pipeline.execution.orders import record, submit

if TYPE_CHECKING:
    from pipeline.execution.session import TradingSession

#: Quantities closer than this (relative) are equal whatever the tolerance.
RELATIVE_EPSILON = 1e-9
#: Model version written on the ledger's own adjustment, adopted and flatten orders.
RECONCILE_VERSION = "reconcile"
#: Codes of the halts a difference causes (``RECONCILE_MISMATCH``: older ledgers); --accept lifts only these.
RECONCILE_CODES = frozenset({"POSITION_MISMATCH", "ORDER_MISMATCH", "UNKNOWN_OPEN_ORDER", "RECONCILE_MISMATCH"})
#: Joins a difference's halt reason and the person's REDUCING state it replaced (restored on --accept).
BEFORE = " | before: "


@dataclass(frozen=True)
class PositionAdopted(OrderFilled):
    """The ledger adopted the venue's position on ``symbol``: a fill of the difference, by a person, for a reason."""

    reason: str = ""
    by: str = ""
    ledger_quantity: float = 0.0
    venue_quantity: float = 0.0


@dataclass(frozen=True)
class OrderAdopted(OrderAccepted):
    """The ledger adopted an order working at the venue that it did not know (or held as final), by a person."""

    reason: str = ""
    by: str = ""


@dataclass(frozen=True)
class Difference:
    """One disagreement between the ledger and the venue.

    ``kind``: ``position``; ``order`` (a working ledger order the venue does not know); ``open_order`` (a
    venue open order the strategy's ledger does not know, holds as final: ``status``, or that is another
    strategy's: ``owner``).
    """

    kind: str
    symbol: str
    ledger: float = 0.0
    venue: float = 0.0
    client_order_id: str | None = None
    status: str | None = None
    venue_order: VenueOrder | None = None
    owner: str | None = None  # open_order: another strategy's ledger order holds this client order id

    def line(self) -> str:
        """The coded one-line reason (also the HALTED reason)."""
        if self.kind == "position":
            return f"POSITION_MISMATCH: ledger {self.ledger:g} {self.symbol}, venue {self.venue:g} {self.symbol}"
        if self.kind == "open_order":
            held = "is not in the ledger" if self.status is None else f"is {self.status} in the ledger"
            if self.owner is not None:
                held = f"is strategy {self.owner}'s in the ledger (one venue account per strategy)"
            return f"UNKNOWN_OPEN_ORDER: venue order {self.client_order_id} ({self.venue_order.line()}) {held}"
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


def _positions(session: TradingSession) -> list[Difference]:
    ours = session.ledger.net_filled(session.strategy)
    theirs = {s: p.quantity for s, p in session.broker.positions().items()}  # explicit: a failed report raises
    return position_differences(ours, theirs, _tolerance(session))


def compare(
    session: TradingSession, bar_ts: dt.datetime | None = None, *, send: bool = False
) -> tuple[list[Difference], list[str]]:
    """Settle what the venue can settle, then list every remaining difference (nothing is halted here).

    The venue's open orders are listed first. A working ledger order listed with the fill the ledger
    already has needs nothing more; every other open ledger order is looked up by client order id and
    recorded as the venue reports it (filled, cancelled, partly filled: the venue's word about our own
    order). One SUBMITTED with an unknown outcome that the venue never booked is closed as
    ``NOT_AT_VENUE``; one written but never sent (INITIALIZED) is, with ``send`` (the cycle), sent now
    when it was decided on ``bar_ts`` and expired otherwise, and without ``send`` left to the next cycle.
    A working or filled ledger order the venue does not know, a venue open order the ledger does not know
    (or holds as final) and a position difference beyond the trading file's tolerance are differences.

    Returns
    -------
    (differences, notes)
        Differences in the order orders, open orders, positions; what was settled, one line each.
    """
    ledger, broker = session.ledger, session.broker
    listed = {o.client_order_id: o for o in broker.open_orders()}  # explicit: a failed listing raises
    diffs, notes = [], []
    for order in ledger.open_orders(session.strategy):
        cid = order.client_order_id
        seen = listed.get(cid)
        working = seen is not None and order.status is OrderStatus.ACCEPTED
        if working and math.isclose(seen.filled_quantity, order.filled_quantity, rel_tol=RELATIVE_EPSILON):
            continue  # still working at the venue, nothing new
        report = broker.lookup(cid)
        if report is None and order.status is OrderStatus.INITIALIZED:
            if not send:
                notes.append(f"{cid}: written, never sent (the next cycle decides)")
            elif bar_ts is not None and order.bar_ts == bar_ts:
                submit(session, order)
                notes.append(f"{cid}: sent after a restart")
            else:
                record(ledger, order, BrokerReport(cid, "", OrderStatus.REJECTED, reason="EXPIRED"))
                notes.append(f"{cid}: never sent, its bar passed (EXPIRED)")
            continue
        if report is None and order.status is OrderStatus.SUBMITTED:  # sent with an unknown outcome, never booked
            reason = "NOT_AT_VENUE: the outcome was unknown and the venue has no such order"
            record(ledger, order, BrokerReport(cid, "", OrderStatus.REJECTED, reason=reason))
            notes.append(f"{cid}: {reason}")
            continue
        if report is None:
            diffs.append(Difference("order", order.symbol, client_order_id=cid, status=order.status))
            continue
        settled = record(ledger, order, report)
        if settled.status is not order.status or settled.filled_quantity != order.filled_quantity:
            notes.append(f"{cid}: {settled.status}")
    for cid, venue_order in listed.items():
        known = ledger.order(cid)
        if known is not None and known.strategy == session.strategy and known.status in TERMINAL:
            report = broker.lookup(cid)  # final since the listing? ask again before saying so
            if report is None or report.status is not OrderStatus.ACCEPTED:
                continue
        if known is None or known.strategy != session.strategy or known.status in TERMINAL:
            status = None if known is None else known.status.value
            owner = None if known is None or known.strategy == session.strategy else known.strategy
            diffs.append(
                Difference(
                    "open_order",
                    venue_order.symbol,
                    client_order_id=cid,
                    status=status,
                    venue_order=venue_order,
                    owner=owner,
                )
            )
    diffs.extend(_positions(session))
    return diffs, notes


def examine(session: TradingSession) -> tuple[list[Difference], list[str]]:
    """:func:`compare` for ``quantgate reconcile``: an order written but never sent is left to the next cycle."""
    return compare(session)


def halt(session: TradingSession, reason: str) -> None:
    """Halt the strategy for a reconcile difference ``reason`` and raise ExecutionError.

    A halt of another kind (a person's ``MANUAL_HALTED``, a risk halt such as ``DAILY_LOSS_LIMIT``) is kept
    as it is; a REDUCING state (``quantgate halt --reducing``) is remembered in the reason (after
    ``BEFORE``) so that resolving the difference restores it.
    """
    _mark_halted(session, reason)
    raise ExecutionError(
        f"strategy {session.strategy}: {reason}; halted (quantgate reconcile FILE --accept or --flatten)"
    )


def _mark_halted(session: TradingSession, reason: str) -> None:
    state, current, _ = session.ledger.state(session.strategy)
    if state is TradingState.HALTED and (current == reason or _code(current) not in RECONCILE_CODES):
        return  # already halted for this, or halted for another reason that only its own way out lifts
    if state is TradingState.REDUCING:  # a person's wind-down: remembered, restored when the difference is resolved
        reason = f"{reason}{BEFORE}{current}"
    elif state is TradingState.HALTED and _code(current) in RECONCILE_CODES and BEFORE in current:
        reason = f"{reason}{BEFORE}{current.split(BEFORE, 1)[1]}"
    session.ledger.set_state(session.strategy, TradingState.HALTED, reason)


def mark_halted(session: TradingSession, diffs: list[Difference]) -> None:
    """Halt the strategy for the first of ``diffs`` (``quantgate reconcile`` without a flag); no exception."""
    if diffs:
        _mark_halted(session, diffs[0].line())


def _code(reason: str) -> str:
    return reason.split(":", 1)[0].strip()


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


def _adopt_order(session: TradingSession, diff: Difference, by: str, why: str, code: str, now: dt.datetime) -> Order:
    """Write the venue's open order into the ledger (or re-open the final ledger order it is), then record
    what the venue reports about it (its fills so far)."""
    ledger, venue = session.ledger, diff.venue_order
    cid = venue.client_order_id
    if diff.owner is not None:
        raise ExecutionError(
            f"strategy {session.strategy}: cannot adopt venue order {cid}: its client order id is strategy "
            f"{diff.owner}'s in the ledger; cancel it at the venue, then run quantgate reconcile again"
        )
    order = ledger.order(cid)
    if order is None:
        if not venue.quantity > 0:
            raise ExecutionError(f"strategy {session.strategy}: venue order {cid} has no quantity to adopt")
        price = venue.limit_price or 0.0
        intent = OrderIntent(
            session.strategy,
            venue.symbol,
            venue.side,
            venue.quantity,
            now,
            RECONCILE_VERSION,
            price,
            0.0,
            limit_price=venue.limit_price,
        )
        order, _ = ledger.record_intent(intent, client_order_id=cid)
    text = f"{code}: by {by}: {why}: venue order {cid} adopted ({venue.line()})"
    event = OrderAdopted(
        cid, order.strategy, order.bar_ts, order.model_version, now, venue.broker_order_id, reason=text, by=by
    )
    order = ledger.apply(event, broker_order_id=venue.broker_order_id)
    report = session.broker.lookup(cid)
    return record(ledger, order, report) if report is not None else order


def _resolve(session: TradingSession, by: str, why: str, code: str, now: dt.datetime) -> list[str]:
    diffs, notes = examine(session)
    for diff in diffs:  # orders first: their fills change the ledger's positions
        if diff.kind == "order":
            _lose(session, diff, by, why, now)
            notes.append(f"{diff.client_order_id}: closed as VENUE_LOST")
        elif diff.kind == "open_order":
            adopted = _adopt_order(session, diff, by, why, code, now)
            notes.append(f"{diff.client_order_id}: adopted as {adopted.status.value} ({diff.venue_order.line()})")
    for diff in _positions(session):  # what the orders do not explain
        _adopt(session, diff, by, why, code, now)
        notes.append(f"adopted the venue's {diff.venue:g} {diff.symbol} (ledger had {diff.ledger:g})")
    return notes


def _activate(session: TradingSession, by: str, why: str, code: str, now: dt.datetime) -> list[str]:
    """Lift the halt the resolved differences caused (a person's REDUCING comes back); leave any other state."""
    left, notes = examine(session)
    if left:
        raise ExecutionError(f"strategy {session.strategy}: still differs after {code}: {left[0].line()}")
    ledger, strategy = session.ledger, session.strategy
    state, reason, _ = ledger.state(strategy)
    if state is TradingState.ACTIVE or (state is TradingState.HALTED and _code(reason) in RECONCILE_CODES):
        if BEFORE in reason:  # the difference had replaced a person's REDUCING: restore it
            before = reason.split(BEFORE, 1)[1]
            ledger.set_state(strategy, TradingState.REDUCING, before, now)
            return [*notes, f"{strategy}: {state.value} -> REDUCING ({before})"]
        ledger.set_state(strategy, TradingState.ACTIVE, f"{code}: by {by}: {why}", now)
        return [*notes, f"{strategy}: {state.value} -> ACTIVE"]
    kept = f"{strategy}: stays {state.value} ({reason}): {code} lifts only a reconcile halt"
    return [*notes, f"{kept}; quantgate resume FILE lifts this one"]


def accept(session: TradingSession, by: str, why: str, now: dt.datetime | None = None) -> list[str]:
    """Adopt the venue's state (recorded with ``by`` and ``why``), then lift the reconcile halt.

    Returns what was done, one line each. Raises ExecutionError when a difference remains.
    """
    now = now or dt.datetime.now(dt.UTC)
    notes = _resolve(session, by, why, "RECONCILE_ACCEPT", now)
    return notes + _activate(session, by, why, "RECONCILE_ACCEPT", now)


def flatten(session: TradingSession, by: str, why: str, now: dt.datetime | None = None) -> list[str]:
    """Adopt the venue's state, send orders that close every venue position of the strategy's symbols,
    reconcile, then lift the reconcile halt (flat). Raises ExecutionError when an order does not fill."""
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
