"""A local paper broker that behaves like a venue, with its own persistent account in quantgate's database.

Fill models
    ``backtest``: at the decision bar's close, the backtest's own assumption: price ``close * (1 + side *
    slippage_bps / 1e4)`` and fee ``fee_bps / 1e4 * notional`` (at the fill price), so the cost of
    trading ``delta`` of equity is :func:`pipeline.strategy.decision.trade_cost`, which the backtest charges
    on the same drift-adjusted turnover (:func:`pipeline.strategy.decision.rebalancing_costs`).
    ``next_open``: the order waits (ACCEPTED) and fills at the next bar's open plus slippage and fee, what
    a live market order placed after the close would likely get.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline.errors import ExecutionError, StoreError, first_line
from pipeline.execution.broker import BrokerReport, MarketBar
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
        """Remember ``bar`` as the latest market data; under ``next_open`` fill waiting orders at its open."""
        self._bars[symbol] = bar
        if self.fill_model != "next_open":
            return []
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
            for row in waiting:
                self._fill(session, row, bar.open, bar.ts)
                reports.append(_report(row))
        return reports

    def submit(self, order: Order) -> BrokerReport:
        """Accept ``order`` once; under ``backtest`` fill it at once at the latest bar's close."""
        bar = self._bars.get(order.symbol)
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
                    submitted_at=bar.ts if bar is not None else dt.datetime.now(dt.UTC),
                )
                if bar is None:
                    row.status, row.reason = OrderStatus.REJECTED.value, f"NO_MARKET_DATA: no bar for {order.symbol}"
                elif not order.quantity > 0:
                    row.status, row.reason = OrderStatus.REJECTED.value, f"INVALID_QUANTITY: {order.quantity}"
                session.add(row)
                session.flush()
                if row.status == OrderStatus.ACCEPTED.value and self.fill_model == "backtest":
                    self._fill(session, row, bar.close, bar.ts)
                return _report(row)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"paper broker: cannot submit {order.client_order_id}: {exc.__class__.__name__}: {first_line(exc)}"
            ) from exc

    def _fill(self, session: Session, row: PaperOrder, price: float, ts: dt.datetime) -> None:
        side = Side(row.side)
        fill_price = price * (1.0 + side.sign * self.slippage_rate)
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
