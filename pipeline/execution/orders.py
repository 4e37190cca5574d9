"""Send an order to the broker once, bring the ledger's order to the status the broker reports, cancel
orders still working from an earlier bar.

Both the cycle and reconciliation use these, so an order is always sent and booked the same way: the
broker's answer becomes the ledger's events (submitted, accepted, partly filled, filled or rejected) in
one transaction, decided from the order's state under its row lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.errors import OrderOutcomeUnknown
from pipeline.execution.broker import BrokerReport
from pipeline.execution.ledger import Ledger
from pipeline.execution.model import (
    TERMINAL,
    Order,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderStatus,
    OrderSubmitted,
)

if TYPE_CHECKING:
    from pipeline.execution.session import TradingSession


def submit(session: TradingSession, order: Order) -> Order:
    """Send ``order`` once; an unknown outcome leaves it SUBMITTED (in flight) for the next reconcile."""
    from pipeline.experiment.run import pause_for_test

    pause_for_test("trade_before_submit")  # test seam: a kill here leaves a written, unsent order
    try:
        report = session.broker.submit(order)
    except OrderOutcomeUnknown:  # a state, not an error: the next reconcile looks it up by client order id
        cid, now = order.client_order_id, dt.datetime.now(dt.UTC)
        return session.ledger.apply(OrderSubmitted(cid, order.strategy, order.bar_ts, order.model_version, now))
    return record(session.ledger, order, report)


def record(ledger: Ledger, order: Order, report: BrokerReport) -> Order:
    """Append the events that take the ledger's order to the broker's reported status (one transaction).

    Reports are cumulative, so a report seen twice appends nothing.
    """
    return ledger.advance(order.client_order_id, lambda current: _events(current, report))


def _events(current: Order, report: BrokerReport) -> list[tuple[OrderEvent, Mapping[str, Any]]]:
    """The events (with the order fields they set) from ``current`` to what ``report`` says."""
    cid, strategy, bar, version = current.client_order_id, current.strategy, current.bar_ts, current.model_version
    now = report.filled_at or dt.datetime.now(dt.UTC)
    status, events = current.status, []
    if status is OrderStatus.INITIALIZED:
        events.append((OrderSubmitted(cid, strategy, bar, version, now), {}))
        status = OrderStatus.SUBMITTED
    if report.status is OrderStatus.REJECTED and status is not OrderStatus.REJECTED:
        events.append((OrderRejected(cid, strategy, bar, version, now, reason=report.reason or "REJECTED"), {}))
        return events
    if status is OrderStatus.SUBMITTED and report.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED):
        accepted = OrderAccepted(cid, strategy, bar, version, now, broker_order_id=report.broker_order_id)
        events.append((accepted, {"broker_order_id": report.broker_order_id}))
        status = OrderStatus.ACCEPTED
    fill = {"filled_quantity": report.filled_quantity, "avg_price": report.avg_price, "fee": report.fee}
    if report.status is OrderStatus.ACCEPTED and report.filled_quantity > current.filled_quantity:
        partial = OrderPartiallyFilled(cid, strategy, bar, version, now, quantity=report.filled_quantity,
                                       price=report.avg_price, fee=report.fee)  # fmt: skip
        events.append((partial, fill))
    if report.status is OrderStatus.FILLED and status is not OrderStatus.FILLED:
        filled = OrderFilled(cid, strategy, bar, version, now, quantity=report.filled_quantity,
                             price=report.avg_price, fee=report.fee)  # fmt: skip
        events.append((filled, fill))
    return events


def cancel_working(session: TradingSession, decided_on: dict[str, dt.datetime]) -> set[str]:
    """Cancel the strategy's orders still working from an earlier bar of a symbol traded now (a limit order
    the market did not reach, a partly filled one, an adopted one); record what the venue answers.

    Returns the symbols with an order still working after that (a cancel the venue has not done yet).
    """
    busy = set()
    for order in session.ledger.open_orders(session.strategy):
        ts = decided_on.get(order.symbol)
        if ts is None or order.bar_ts == ts or order.status is not OrderStatus.ACCEPTED:
            continue
        report = session.broker.cancel(order.client_order_id)
        current = record(session.ledger, order, report) if report is not None else order
        if current.status not in TERMINAL:
            busy.add(order.symbol)
    return busy
