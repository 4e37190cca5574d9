"""The broker port: what the trading cycle needs from a venue. Paper now; Alpaca/Binance are one module each.

A broker answers with :class:`BrokerReport` s, never with the ledger's objects: the ledger is ours, the
report is the venue's word, and reconciliation compares the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from pipeline.execution.model import AccountSnapshot, Order, OrderStatus, Position


@dataclass(frozen=True)
class MarketBar:
    """The closed bar a cycle decides on (the paper broker fills from it; venues ignore it)."""

    ts: dt.datetime
    open: float
    close: float


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


class Broker(Protocol):
    """One venue account."""

    name: str

    def on_bar(self, symbol: str, bar: MarketBar) -> list[BrokerReport]:
        """Feed a closed bar (a simulator fills waiting orders from it); return the reports it changed."""

    def submit(self, order: Order) -> BrokerReport:
        """Send ``order`` once under its client order id; a known id returns the existing order's report."""

    def lookup(self, client_order_id: str) -> BrokerReport | None:
        """The venue's order with that client order id, or None when the venue never received it."""

    def positions(self) -> dict[str, Position]:
        """Every non-zero position, by symbol (an explicit report: a missing symbol is flat)."""

    def account(self) -> AccountSnapshot:
        """Cash and positions."""
