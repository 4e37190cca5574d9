"""A local paper broker that behaves like a venue, with its own persistent account in quantgate's database.

Fill models
    ``backtest``: at the decision bar's close, the backtest's own assumption: price ``close * (1 + side *
    slippage_bps / 1e4)`` and fee ``fee_bps / 1e4 * notional`` (at the fill price), so the cost of
    trading ``delta`` of equity is :func:`pipeline.strategy.decision.trade_cost`, which the backtest charges
    on the same drift-adjusted turnover (:func:`pipeline.strategy.decision.rebalancing_costs`).
    ``next_open``: the order waits (ACCEPTED) and fills at the next bar's open plus slippage and fee, what
    a live market order placed after the close would likely get.

Limit orders (``order.limit_price``) fill only when the price crosses the limit, never worse than it:
under ``backtest`` at once when the decision bar's close is at or through the limit (a marketable limit,
at the close plus slippage, capped at the limit); otherwise they rest, and each later bar fills them at
its open when the open is at or through the limit, else at the limit when the bar trades through it
(low below a buy's limit, high above a sell's), without slippage. A resting order stays until it fills
or is cancelled.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline.errors import ExecutionError, StoreError, first_line
from pipeline.execution.broker import BrokerReport, MarketBar, VenueOrder
from pipeline.execution.model import AccountSnapshot, Order, OrderStatus, Position, Side
from pipeline.store.models import PaperAccount, PaperFill, PaperOrder, PaperPosition

FillModel = Literal["backtest", "next_open"]


def _report(row: PaperOrder) -> BrokerReport:
    return BrokerReport(
        client_order_id=row.client_order_id,
        broker_order_id=row.broker_order_id,
        status=OrderStatus(row.status),
        filled_quantity=row.filled_quantity,
        avg_price=row.avg_price,
        fee=row.fee,
        reason=row.reason,
        filled_at=row.filled_at,
    )


def limit_fill_price(side: Side, limit: float, bar: MarketBar) -> float | None:
    """The price a resting limit order fills at on ``bar``: the open when it is at or through the limit,
    else the limit when the bar trades through it; None when the price never crosses the limit."""
    high = bar.high if bar.high is not None else max(bar.open, bar.close)
    low = bar.low if bar.low is not None else min(bar.open, bar.close)
    if side is Side.BUY:
        return bar.open if bar.open <= limit else (limit if low < limit else None)
    return bar.open if bar.open >= limit else (limit if high > limit else None)


class PaperBroker:
    """A simulated venue account named ``account``, created with ``starting_cash`` on first use.

    Parameters
    ----------
    engine
        Migrated database engine; the account lives in ``paper_*`` tables.
    account
        Account name (one per trading file).
    starting_cash
        Cash of a new account (ignored when the account exists: it survives restarts).
    fill_model
        ``backtest`` or ``next_open`` (module docstring).
    fee_bps, slippage_bps
        Costs per fill, in basis points of the notional.
    """

    name = "paper"

    def __init__(
        self,
        engine: Engine,
        account: str,
        starting_cash: float,
        fill_model: FillModel = "backtest",
        fee_bps: float = 0.0,
        slippage_bps: float = 0.0,
    ) -> None:
        if fill_model not in ("backtest", "next_open"):
            raise ExecutionError(f"paper broker: unknown fill model {fill_model!r} (backtest or next_open)")
        self.engine = engine
        self.account_name = account
        self.fill_model = fill_model
        self.fee_rate = fee_bps / 1e4
        self.slippage_rate = slippage_bps / 1e4
        self._bars: dict[str, MarketBar] = {}
        self._quiet: set[str] = set()  # symbols known to have no order waiting (under backtest)
        try:
            with Session(engine) as session, session.begin():
                if session.get(PaperAccount, account) is None:
                    session.add(
                        PaperAccount(
                            account=account,
                            cash=float(starting_cash),
                            starting_cash=float(starting_cash),
                            created_at=dt.datetime.now(dt.UTC),
                        )
                    )
        except SQLAlchemyError as exc:
            raise StoreError(f"paper account {account}: {exc.__class__.__name__}: {first_line(exc)}") from exc

    # ---- venue behaviour ----------------------------------------------------------------------------------

    def on_bar(self, symbol: str, bar: MarketBar) -> list[BrokerReport]:
        """Remember ``bar`` as the latest market data; fill the orders waiting for it (module docstring)."""
        self._bars[symbol] = bar
        if self.fill_model != "next_open" and symbol in self._quiet:
            return []  # nothing rests on this symbol: a backtest replay pays no query per bar
        reports = []
        with Session(self.engine) as session, session.begin():
            waiting = session.scalars(
                select(PaperOrder).where(
                    PaperOrder.account == self.account_name,
                    PaperOrder.symbol == symbol,
                    PaperOrder.status == OrderStatus.ACCEPTED.value,
                    PaperOrder.submitted_at < bar.ts,
                )
            ).all()
            resting = 0
            for row in waiting:
                side = Side(row.side)
                if row.limit_price is None:
                    price = bar.open * (1.0 + side.sign * self.slippage_rate)
                else:
                    price = limit_fill_price(side, row.limit_price, bar)
                if price is None:
                    resting += 1
                    continue
                self._fill(session, row, price, bar.ts)
                reports.append(_report(row))
        if not resting:
            self._quiet.add(symbol)
        return reports

    def submit(self, order: Order, limit_price: float | None = None) -> BrokerReport:
        """Accept ``order`` once (a limit order at ``limit_price``, default ``order.limit_price``); under
        ``backtest`` fill a market order, or a limit order its close reached, at once at the latest close."""
        bar = self._bars.get(order.symbol)
        limit = limit_price if limit_price is not None else order.limit_price
        try:
            with Session(self.engine) as session, session.begin():
                existing = session.get(PaperOrder, (self.account_name, order.client_order_id))
                if existing is not None:
                    return _report(existing)
                row = PaperOrder(
                    account=self.account_name,
                    client_order_id=order.client_order_id,
                    broker_order_id=uuid.uuid4().hex,
                    symbol=order.symbol,
                    side=order.side.value,
                    quantity=order.quantity,
                    status=OrderStatus.ACCEPTED.value,
                    filled_quantity=0.0,
                    fee=0.0,
                    limit_price=limit,
                    submitted_at=bar.ts if bar is not None else dt.datetime.now(dt.UTC),
                )
                if bar is None:
                    row.status, row.reason = OrderStatus.REJECTED.value, f"NO_MARKET_DATA: no bar for {order.symbol}"
                elif not order.quantity > 0:
                    row.status, row.reason = OrderStatus.REJECTED.value, f"INVALID_QUANTITY: {order.quantity}"
                elif limit is not None and not limit > 0:
                    row.status, row.reason = OrderStatus.REJECTED.value, f"INVALID_LIMIT_PRICE: {limit}"
                session.add(row)
                session.flush()
                if row.status == OrderStatus.ACCEPTED.value and self.fill_model == "backtest":
                    side = order.side
                    price = bar.close * (1.0 + side.sign * self.slippage_rate)
                    if limit is None:
                        self._fill(session, row, price, bar.ts)
                    elif side.sign * (limit - bar.close) >= 0:  # marketable: never worse than the limit
                        self._fill(session, row, min(price, limit) if side is Side.BUY else max(price, limit), bar.ts)
                if row.status == OrderStatus.ACCEPTED.value:
                    self._quiet.discard(order.symbol)
                return _report(row)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"paper broker: cannot submit {order.client_order_id}: {exc.__class__.__name__}: {first_line(exc)}"
            ) from exc

    def _fill(self, session: Session, row: PaperOrder, fill_price: float, ts: dt.datetime) -> None:
        side = Side(row.side)
        fee = self.fee_rate * row.quantity * fill_price
        signed = side.sign * row.quantity
        account = session.get(PaperAccount, self.account_name, with_for_update=True)
        account.cash -= signed * fill_price + fee
        position = session.get(PaperPosition, (self.account_name, row.symbol), with_for_update=True)
        if position is None:
            session.add(
                PaperPosition(account=self.account_name, symbol=row.symbol, quantity=signed, avg_price=fill_price)
            )
        else:
            new_qty = position.quantity + signed
            if position.quantity == 0 or (position.quantity > 0) != (new_qty > 0) or new_qty == 0:
                position.avg_price = fill_price  # opened, flipped or closed: the new basis is this fill
            elif abs(new_qty) > abs(position.quantity):  # added to: weighted average entry
                position.avg_price = (position.avg_price * position.quantity + fill_price * signed) / new_qty
            position.quantity = new_qty
        session.add(
            PaperFill(
                account=self.account_name,
                client_order_id=row.client_order_id,
                symbol=row.symbol,
                side=row.side,
                quantity=row.quantity,
                price=fill_price,
                fee=fee,
                ts=ts,
            )
        )
        row.status = OrderStatus.FILLED.value
        row.filled_quantity, row.avg_price, row.fee, row.filled_at = row.quantity, fill_price, fee, ts

    # ---- queries -------------------------------------------------------------------------------------------

    def lookup(self, client_order_id: str) -> BrokerReport | None:
        """The paper order with that client order id, or None."""
        with Session(self.engine) as session:
            row = session.get(PaperOrder, (self.account_name, client_order_id))
            return None if row is None else _report(row)

    def open_orders(self) -> list[VenueOrder]:
        """The account's orders still waiting for a fill."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(PaperOrder)
                .where(PaperOrder.account == self.account_name, PaperOrder.status == OrderStatus.ACCEPTED.value)
                .order_by(PaperOrder.submitted_at)
            )
            return [
                VenueOrder(
                    r.client_order_id,
                    r.broker_order_id,
                    r.symbol,
                    Side(r.side),
                    r.quantity,
                    r.filled_quantity,
                    r.limit_price,
                )
                for r in rows
            ]

    def cancel(self, client_order_id: str) -> BrokerReport | None:
        """Cancel a waiting order (REJECTED ``VENUE_CANCELED``); a final one is reported as it is, None if unknown."""
        with Session(self.engine) as session, session.begin():
            row = session.get(PaperOrder, (self.account_name, client_order_id), with_for_update=True)
            if row is None:
                return None
            if row.status == OrderStatus.ACCEPTED.value:
                row.status, row.reason = OrderStatus.REJECTED.value, "VENUE_CANCELED"
            return _report(row)

    def positions(self) -> dict[str, Position]:
        """Every non-zero position of the account."""
        with Session(self.engine) as session:
            rows = session.scalars(select(PaperPosition).where(PaperPosition.account == self.account_name))
            return {r.symbol: Position(r.symbol, r.quantity, r.avg_price) for r in rows if r.quantity != 0}

    def account(self) -> AccountSnapshot:
        """Cash and positions."""
        with Session(self.engine) as session:
            cash = session.get(PaperAccount, self.account_name).cash
        return AccountSnapshot(cash=cash, positions=self.positions())
