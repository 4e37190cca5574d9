"""The broker port: what the trading cycle needs from a venue. Paper now; Alpaca/Binance are one module each.

A broker answers with :class:`BrokerReport` s, never with the ledger's objects: the ledger is ours, the
report is the venue's word, and reconciliation compares the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from pipeline.execution.model import AccountSnapshot, Order, OrderStatus, Position, Side


@dataclass(frozen=True)
class MarketBar:
    """The closed bar a cycle decides on (the paper broker fills from it; venues ignore it).

    ``high``/``low`` (None: unknown, the open and close bound the bar) decide whether a resting limit
    order's price was reached.
    """

    ts: dt.datetime
    open: float
    close: float
    high: float | None = None
    low: float | None = None


@dataclass(frozen=True)
class BrokerReport:
    """A venue's definitive answer about one order."""

    client_order_id: str
    broker_order_id: str
    status: OrderStatus  # ACCEPTED (working), REJECTED or FILLED
    filled_quantity: float = 0.0
    avg_price: float | None = None
    fee: float = 0.0
    reason: str | None = None
    filled_at: dt.datetime | None = None


@dataclass(frozen=True)
class VenueOrder:
    """One order working at the venue (open: neither filled, cancelled, expired nor rejected), as listed."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: float
    filled_quantity: float = 0.0
    limit_price: float | None = None  # None: a market order

    def line(self) -> str:
        """``BUY 5 AAPL limit 90 (venue id ...)`` for messages."""
        kind = "market" if self.limit_price is None else f"limit {self.limit_price:g}"
        done = f"filled {self.filled_quantity:g}"
        return f"{self.side.value} {self.quantity:g} {self.symbol} {kind}, {done} (venue id {self.broker_order_id})"


class Broker(Protocol):
    """One venue account."""

    name: str

    def on_bar(self, symbol: str, bar: MarketBar) -> list[BrokerReport]:
        """Feed a closed bar (a simulator fills waiting orders from it); return the reports it changed."""

    def submit(self, order: Order) -> BrokerReport:
        """Send ``order`` once under its client order id (a limit order when ``order.limit_price`` is set);
        a known id returns the existing order's report."""

    def lookup(self, client_order_id: str) -> BrokerReport | None:
        """The venue's order with that client order id, or None when the venue never received it."""

    def open_orders(self) -> list[VenueOrder]:
        """Every order working at the venue on the account's symbols (an explicit list: a failure raises)."""

    def cancel(self, client_order_id: str) -> BrokerReport | None:
        """Ask the venue to cancel the order; its report afterwards (a fill may have won the race), None if unknown."""

    def positions(self) -> dict[str, Position]:
        """Every non-zero position, by symbol (an explicit report: a missing symbol is flat)."""

    def account(self) -> AccountSnapshot:
        """Cash and positions."""
