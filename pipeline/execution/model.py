"""Trading domain objects: intents, orders, fills, positions, and past-tense order events.

Every object is a frozen dataclass. Timestamps are timezone-aware UTC; ``bar_ts`` is the close of the bar
the decision was taken on and ``model_version`` the registered model version that took it, so every
ledger row can be traced back to one model and one bar.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
from dataclasses import dataclass


class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1


class OrderStatus(enum.StrEnum):
    """Lifecycle of an order in the ledger; DENIED never reaches a broker."""

    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    FILLED = "FILLED"


#: Statuses after which nothing more can happen to an order.
TERMINAL = frozenset({OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.FILLED})


class TradingState(enum.StrEnum):
    """ACTIVE trades freely, REDUCING sends only orders that shrink positions, HALTED sends nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


def client_order_id(strategy: str, symbol: str, bar_ts: dt.datetime, side: Side) -> str:
    """Return the deterministic client order id of one strategy's order on one symbol, bar and side.

    The same decision always yields the same id, so a retried or restarted cycle finds the order it
    already wrote instead of sending a second one. Readable prefix plus a hash of the full key.
    """
    stamp = bar_ts.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{strategy}|{symbol}|{stamp}|{side.value}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"qg-{strategy[:24]}-{stamp}-{side.value[0]}-{digest}"


@dataclass(frozen=True)
class OrderIntent:
    """A wish to trade ``quantity`` (> 0) of ``symbol``, decided on bar ``bar_ts`` by ``model_version``.

    ``limit_price`` None is a market order; otherwise a limit order at that price.
    """

    strategy: str
    symbol: str
    side: Side
    quantity: float
    bar_ts: dt.datetime
    model_version: str
    reference_price: float
    target_position: float
    limit_price: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.quantity) and self.quantity > 0):
            raise ValueError(f"intent quantity must be positive and finite (got {self.quantity!r})")
        if self.limit_price is not None and not (math.isfinite(self.limit_price) and self.limit_price > 0):
            raise ValueError(f"intent limit price must be positive and finite (got {self.limit_price!r})")
        if self.bar_ts.tzinfo is None:
            raise ValueError("intent bar_ts must be timezone-aware UTC")

    @property
    def client_order_id(self) -> str:
        return client_order_id(self.strategy, self.symbol, self.bar_ts, self.side)

    @property
    def notional(self) -> float:
        return self.quantity * self.reference_price

    @property
    def signed_quantity(self) -> float:
        return self.side.sign * self.quantity


@dataclass(frozen=True)
class Order:
    """An order as the ledger knows it (one row of ``trading_orders``)."""

    client_order_id: str
    strategy: str
    symbol: str
    side: Side
    quantity: float
    bar_ts: dt.datetime
    model_version: str
    status: OrderStatus
    reason: str | None = None
    broker_order_id: str | None = None
    filled_quantity: float = 0.0
    avg_price: float | None = None
    fee: float = 0.0
    created_at: dt.datetime | None = None
    limit_price: float | None = None  # None: a market order


@dataclass(frozen=True)
class Fill:
    """One execution at a broker."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    ts: dt.datetime


@dataclass(frozen=True)
class Position:
    """A signed quantity of one symbol held at a broker (negative = short)."""

    symbol: str
    quantity: float
    avg_price: float


@dataclass(frozen=True)
class AccountSnapshot:
    """A broker account's cash and positions; equity needs prices to mark them."""

    cash: float
    positions: dict[str, Position]

    def equity(self, prices: dict[str, float]) -> float:
        """Cash plus every position marked at ``prices``."""
        return self.cash + sum(p.quantity * prices[s] for s, p in self.positions.items())


# ---------------------------------------------------------------------------------------------------------
# events: past-tense facts, written to ``trading_events``


@dataclass(frozen=True)
class OrderEvent:
    """Base of the order events; ``kind`` is the class name."""

    client_order_id: str
    strategy: str
    bar_ts: dt.datetime
    model_version: str
    ts_event: dt.datetime

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class OrderDenied(OrderEvent):
    """The risk engine or the trading state refused the intent; ``reason`` starts with a code."""

    reason: str = ""

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass(frozen=True)
class OrderSubmitted(OrderEvent):
    """The order was handed to the broker."""


@dataclass(frozen=True)
class OrderAccepted(OrderEvent):
    """The broker acknowledged the order."""

    broker_order_id: str = ""


@dataclass(frozen=True)
class OrderRejected(OrderEvent):
    """The broker refused the order."""

    reason: str = ""


@dataclass(frozen=True)
class OrderPartiallyFilled(OrderEvent):
    """Part of a working order executed: ``quantity`` is the cumulative filled quantity so far (the venue's
    trades counted once each, by trade id), ``price`` its average price, ``fee`` the cumulative fee."""

    quantity: float = 0.0
    price: float = 0.0
    fee: float = 0.0


@dataclass(frozen=True)
class OrderFilled(OrderEvent):
    """The order executed (completely) at ``price`` with ``fee``."""

    quantity: float = 0.0
    price: float = 0.0
    fee: float = 0.0
