"""The trading ledger in quantgate's database: orders, their events and each strategy's trading state.

Every write is one transaction. An intent is written (``INITIALIZED`` or ``DENIED``) *before* anything is
sent, under its deterministic client order id (the primary key), so a second cycle for the same bar finds
it and sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline.errors import StoreError, first_line
from pipeline.execution.model import (
    TERMINAL,
    Order,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    Side,
    TradingState,
)
from pipeline.store.models import TradingEvent, TradingOrder, TradingStateRow

#: Given the order as the ledger holds it, the events to append, each with the order fields it sets.
Plan = Callable[[Order], Sequence[tuple[OrderEvent, Mapping[str, Any]]]]

#: Event kind -> the order status it moves the order to.
_STATUS_AFTER = {
    "OrderDenied": OrderStatus.DENIED,
    "OrderSubmitted": OrderStatus.SUBMITTED,
    "OrderAccepted": OrderStatus.ACCEPTED,
    "OrderRejected": OrderStatus.REJECTED,
    "OrderFilled": OrderStatus.FILLED,
    "OrderPartiallyFilled": OrderStatus.ACCEPTED,
    "PositionAdopted": OrderStatus.FILLED,  # pipeline.execution.reconcile: the venue's position, adopted by hand
    "OrderAdopted": OrderStatus.ACCEPTED,  # pipeline.execution.reconcile: a venue open order, adopted by hand
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _order(row: TradingOrder) -> Order:
    return Order(
        client_order_id=row.client_order_id,
        strategy=row.strategy,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        bar_ts=row.bar_ts,
        model_version=row.model_version,
        status=OrderStatus(row.status),
        reason=row.reason,
        broker_order_id=row.broker_order_id,
        filled_quantity=row.filled_quantity,
        avg_price=row.avg_price,
        fee=row.fee,
        created_at=row.created_at,
        limit_price=row.limit_price,
    )


def _event_data(event: OrderEvent) -> str | None:
    base = {"client_order_id", "strategy", "bar_ts", "model_version", "ts_event", "reason"}
    extra = {k: v for k, v in vars(event).items() if k not in base}
    return json.dumps(extra, sort_keys=True) if extra else None


class Ledger:
    """Orders, events and trading states of every strategy in one database.

    Parameters
    ----------
    engine
        A migrated engine (:func:`pipeline.store.database.ensure_schema`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _fail(self, action: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(f"trading ledger: cannot {action}: {exc.__class__.__name__}: {first_line(exc)}")

    # ---- orders -------------------------------------------------------------------------------------------

    def record_intent(
        self, intent: OrderIntent, denied: OrderDenied | None = None, client_order_id: str | None = None
    ) -> tuple[Order, bool]:
        """Write ``intent`` (and its denial, if any) unless its client order id is already in the ledger.

        ``client_order_id`` replaces the intent's deterministic id (a venue order adopted by reconciliation
        keeps the id the venue knows it by).

        Returns
        -------
        (Order, bool)
            The ledger's order for that id, and True when this call created it (False: it existed, so
            this is a retry and nothing new may be sent).
        """
        cid = client_order_id or intent.client_order_id
        now = _now()
        row = TradingOrder(
            client_order_id=cid,
            strategy=intent.strategy,
            symbol=intent.symbol,
            side=intent.side.value,
            quantity=intent.quantity,
            bar_ts=intent.bar_ts,
            model_version=intent.model_version,
            status=(OrderStatus.DENIED if denied else OrderStatus.INITIALIZED).value,
            reason=denied.reason if denied else None,
            filled_quantity=0.0,
            fee=0.0,
            limit_price=intent.limit_price,
            created_at=now,
            updated_at=now,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                session.flush()
                if denied is not None:
                    session.add(self._event_row(denied))
        except IntegrityError:
            existing = self.order(cid)
            if existing is None:  # pragma: no cover - an integrity error for another reason
                raise
            return existing, False
        except SQLAlchemyError as exc:
            raise self._fail(f"write order {cid}", exc) from exc
        return self.order(cid), True

    def _event_row(self, event: OrderEvent) -> TradingEvent:
        return TradingEvent(
            client_order_id=event.client_order_id,
            strategy=event.strategy,
            kind=event.kind,
            bar_ts=event.bar_ts,
            model_version=event.model_version,
            reason=getattr(event, "reason", None) or None,
            data=_event_data(event),
            ts_event=event.ts_event,
        )

    def apply(self, event: OrderEvent, **fields: Any) -> Order:
        """Append ``event`` and move its order to the status the event implies, in one transaction.

        ``fields`` update the order row too (``broker_order_id``, ``filled_quantity``, ``avg_price``,
        ``fee``).
        """
        return self.advance(event.client_order_id, lambda _: [(event, fields)], event.kind)

    def advance(self, client_order_id: str, plan: Plan, what: str = "events") -> Order:
        """Append the events ``plan`` returns for the order's current state, in one transaction.

        The order's row is locked first and ``plan`` sees it as it is then, so two processes settling the
        same order never both append the same event. Each ``(event, fields)`` moves the order to the status
        the event implies and sets ``fields`` on its row. Returns the order after the events.

        Raises
        ------
        StoreError
            If the order is unknown or the database fails (nothing is written then).
        """
        cid = client_order_id
        try:
            with Session(self.engine) as session, session.begin():
                row = session.get(TradingOrder, cid, with_for_update=True)
                if row is None:
                    raise StoreError(f"trading ledger: {what} for unknown order {cid}")
                changes = plan(_order(row))
                for event, fields in changes:
                    session.add(self._event_row(event))
                    row.status = _STATUS_AFTER[event.kind].value
                    if getattr(event, "reason", None):
                        row.reason = event.reason
                    for key, value in fields.items():
                        setattr(row, key, value)
                if changes:
                    row.updated_at = _now()
                after = _order(row)
        except SQLAlchemyError as exc:
            raise self._fail(f"record {what} for {cid}", exc) from exc
        return after

    def order(self, client_order_id: str) -> Order | None:
        """The ledger's order with that id, or None."""
        with Session(self.engine) as session:
            row = session.get(TradingOrder, client_order_id)
            return None if row is None else _order(row)

    def orders(
        self,
        strategy: str | None = None,
        since: dt.datetime | None = None,
        statuses: set[OrderStatus] | None = None,
        symbol: str | None = None,
    ) -> list[Order]:
        """Orders oldest first, optionally of one strategy, decided on bars at or after ``since``."""
        query = select(TradingOrder).order_by(TradingOrder.bar_ts, TradingOrder.created_at)
        if strategy is not None:
            query = query.where(TradingOrder.strategy == strategy)
        if since is not None:
            query = query.where(TradingOrder.bar_ts >= since)
        if symbol is not None:
            query = query.where(TradingOrder.symbol == symbol)
        if statuses:
            query = query.where(TradingOrder.status.in_([s.value for s in statuses]))
        with Session(self.engine) as session:
            return [_order(r) for r in session.scalars(query)]

    def open_orders(self, strategy: str) -> list[Order]:
        """Orders of ``strategy`` that are not yet final (in flight: they must be settled first)."""
        return self.orders(strategy, statuses=set(OrderStatus) - TERMINAL)

    def _net_filled(self, key: Any, where: Any) -> dict[str, float]:
        """Net filled quantity (buys minus sells) grouped by column ``key`` over rows matching ``where``."""
        signed = case(
            (TradingOrder.side == Side.BUY.value, TradingOrder.filled_quantity), else_=-TradingOrder.filled_quantity
        )
        query = select(key, func.sum(signed)).where(where, TradingOrder.filled_quantity != 0).group_by(key)
        with Session(self.engine) as session:
            return {name: float(q) for name, q in session.execute(query) if q is not None and abs(q) > 1e-12}

    def net_filled(self, strategy: str) -> dict[str, float]:
        """Net filled quantity per symbol of ``strategy`` (buys minus sells), zeros left out."""
        return self._net_filled(TradingOrder.symbol, TradingOrder.strategy == strategy)

    def net_filled_by_strategy(self, symbol: str) -> dict[str, float]:
        """Net filled quantity of ``symbol`` per strategy (one query; zeros left out)."""
        return self._net_filled(TradingOrder.strategy, TradingOrder.symbol == symbol)

    def events(self, client_order_id: str | None = None, strategy: str | None = None) -> list[dict[str, Any]]:
        """Events oldest first as plain dicts (kind, reason, bar, model version, ...)."""
        query = select(TradingEvent).order_by(TradingEvent.id)
        if client_order_id is not None:
            query = query.where(TradingEvent.client_order_id == client_order_id)
        if strategy is not None:
            query = query.where(TradingEvent.strategy == strategy)
        with Session(self.engine) as session:
            return [
                {
                    "client_order_id": r.client_order_id,
                    "strategy": r.strategy,
                    "kind": r.kind,
                    "bar_ts": r.bar_ts,
                    "model_version": r.model_version,
                    "reason": r.reason,
                    "data": json.loads(r.data) if r.data else {},
                    "ts_event": r.ts_event,
                }
                for r in session.scalars(query)
            ]

    # ---- trading state ------------------------------------------------------------------------------------

    def state(self, strategy: str) -> tuple[TradingState, str, dt.datetime | None]:
        """``(state, reason, since)``; a strategy never set is ACTIVE."""
        with Session(self.engine) as session:
            row = session.get(TradingStateRow, strategy)
            if row is None:
                return TradingState.ACTIVE, "", None
            return TradingState(row.state), row.reason, row.changed_at

    def set_state(self, strategy: str, state: TradingState, reason: str, at: dt.datetime | None = None) -> None:
        """Persist ``strategy``'s trading state with why and when."""
        at = at or _now()
        try:
            with Session(self.engine) as session, session.begin():
                row = session.get(TradingStateRow, strategy, with_for_update=True)
                if row is None:
                    session.add(TradingStateRow(strategy=strategy, state=state.value, reason=reason, changed_at=at))
                else:
                    row.state, row.reason, row.changed_at = state.value, reason, at
        except SQLAlchemyError as exc:
            raise self._fail(f"set the trading state of {strategy}", exc) from exc
