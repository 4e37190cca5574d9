"""Alpaca behind the broker port, through alpaca-py's ``TradingClient(key, secret, paper=True, url_override=...)``.

Environment: ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY`` (the names the data source already uses),
``QUANTGATE_ALPACA_TRADING_URL`` (default: Alpaca's paper endpoint), ``QUANTGATE_BROKER_DEADLINE``.

What the adapter guarantees
    * Every call runs under an explicit wall-clock deadline: the client sets no HTTP timeout and sleeps
      ``retry_wait`` seconds between its own retries of 429 and 504 (POST ``/orders`` included).
    * Orders carry ``client_order_id`` = the ledger's id. A retried POST whose first try was accepted
      meets "client_order_id must be unique": that is "already submitted", and the order is looked up.
    * A 5xx, a dropped connection or the deadline after sending leaves the outcome UNKNOWN: the order is
      looked up by client order id (never resent blind), and :class:`~pipeline.errors.OrderOutcomeUnknown`
      is raised when the look-up does not settle it.
    * An order that ends canceled or expired after a partial fill is reported FILLED for what executed.
    * Keys never appear in errors or reports.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any, Literal

from pipeline.errors import ExecutionError, OrderOutcomeUnknown
from pipeline.execution.broker import BrokerReport, MarketBar, VenueOrder
from pipeline.execution.brokers._common import Deadline, VenueKeys, broker_deadline, call_with_deadline
from pipeline.execution.model import AccountSnapshot, Order, OrderStatus, Position, Side
from pipeline.sources.alpaca import alpaca_symbol

KEY_ENV, SECRET_ENV, URL_ENV = "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "QUANTGATE_ALPACA_TRADING_URL"
DUPLICATE_TEXT = "client_order_id must be unique"
#: Orders per ``GET /v2/orders`` page (the venue's maximum; its default is 50).
OPEN_ORDERS_PAGE = 500
WORKING = frozenset(
    {"new", "accepted", "pending_new", "partially_filled", "accepted_for_bidding", "held", "calculated"}
)
WORKING |= {"pending_cancel", "pending_replace", "pending_review", "done_for_day", "stopped", "replaced"}


class _Unknown(Exception):
    pass


class _Refused(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"HTTP {status} code {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _key(symbol: str) -> str:
    return symbol.upper().replace("/", "").replace("-", "").replace("_", "")


class AlpacaBroker:
    """One Alpaca account trading ``symbols`` of one asset class.

    Parameters
    ----------
    symbols
        Symbols in quantgate notation (``AAPL``; ``BTCUSD`` for crypto).
    asset_class
        ``equity`` (orders ``day``) or ``crypto`` (orders ``gtc``, symbols sent as ``BTC/USD``).
    keys, base_url, deadline
        Key pair (default from the environment), base URL (without ``/v2``), seconds per call.
    paper
        Alpaca's paper endpoint when no base URL is given (``mode: live`` turns it off).
    retry_wait
        Seconds the client waits between its own 429/504 retries (its default is 3).
    settle_attempts, settle_wait
        Look-ups that try to settle an unknown outcome, and the pause between them.
    """

    name = "alpaca"

    def __init__(
        self,
        symbols: list[str],
        *,
        asset_class: Literal["equity", "crypto"] = "equity",
        keys: VenueKeys | None = None,
        base_url: str | None = None,
        paper: bool = True,
        deadline: float | None = None,
        retry_wait: float | None = None,
        settle_attempts: int = 3,
        settle_wait: float = 0.5,
    ) -> None:
        from alpaca.trading.client import TradingClient

        if not symbols:
            raise ExecutionError("alpaca broker: no symbols to trade")
        self.keys = keys or VenueKeys.from_env("alpaca", KEY_ENV, SECRET_ENV)
        self.asset_class = asset_class
        self.symbols = {_key(s): s for s in symbols}
        self.deadline = deadline if deadline is not None else broker_deadline()
        self.settle_attempts, self.settle_wait = max(1, settle_attempts), settle_wait
        base = base_url or os.environ.get(URL_ENV) or None
        self.client = TradingClient(self.keys.key, self.keys.secret, paper=paper, url_override=base)
        if retry_wait is not None:  # RESTClient's retry_wait_seconds, which TradingClient does not expose
            self.client._retry_wait = retry_wait
        self._prices: dict[str, float] = {}

    # ---- plumbing ------------------------------------------------------------------------------------------

    def _call(self, what: str, fn_name: str, *args: Any) -> Any:
        import requests
        from alpaca.common.exceptions import APIError

        fn = getattr(self.client, fn_name)
        try:
            return call_with_deadline(lambda: fn(*args), self.deadline)
        except Deadline as exc:
            raise _Unknown(f"{what}: {exc}") from None
        except APIError as exc:
            status = exc.status_code or 0
            try:
                code, message = int(exc.code), str(exc.message)
            except (ValueError, KeyError, TypeError):
                code, message = 0, str(exc)
            message = self.keys.redact(message)
            if status in (401, 403) and code != 40310000:
                raise ExecutionError(f"alpaca broker: {what} refused: HTTP {status}: {message}") from None
            if status >= 500 or status == 429:
                raise _Unknown(f"{what}: HTTP {status}: {message}") from None
            raise _Refused(status, code, message) from None
        except requests.RequestException as exc:
            raise _Unknown(f"{what}: {exc.__class__.__name__}: {self.keys.redact(exc)}") from None
        except ValueError as exc:  # a body the client's models refuse
            raise ExecutionError(f"alpaca broker: {what}: malformed answer: {self.keys.redact(exc)}") from None

    def _read(self, what: str, fn_name: str, *args: Any) -> Any:
        try:
            return self._call(what, fn_name, *args)
        except _Unknown as exc:
            raise ExecutionError(f"alpaca broker: venue unavailable: {exc}") from None
        except _Refused as exc:
            raise ExecutionError(f"alpaca broker: {what} refused: {exc}") from None

    def _report(self, raw: Any) -> BrokerReport:
        status = str(getattr(raw.status, "value", raw.status))
        filled = float(raw.filled_qty or 0)
        avg = float(raw.filled_avg_price) if raw.filled_avg_price is not None and filled > 0 else None
        cid, oid = raw.client_order_id, str(raw.id)
        when = raw.filled_at or raw.updated_at
        if status == "filled" or (status in ("canceled", "expired") and filled > 0):
            return BrokerReport(cid, oid, OrderStatus.FILLED, filled, avg, 0.0, None, when)
        if status in WORKING:
            return BrokerReport(cid, oid, OrderStatus.ACCEPTED, filled, avg)
        return BrokerReport(cid, oid, OrderStatus.REJECTED, reason=f"VENUE_{status.upper()}")

    def _find(self, cid: str) -> BrokerReport | None:
        try:
            raw = self._call(f"look up {cid}", "get_order_by_client_id", cid)
        except _Refused as exc:
            if exc.status == 404:
                return None
            raise ExecutionError(f"alpaca broker: look up {cid} refused: {exc}") from None
        return self._report(raw)

    def _settle(self, cid: str, why: str) -> BrokerReport:
        for attempt in range(self.settle_attempts):
            if attempt:
                time.sleep(self.settle_wait)
            try:
                found = self._find(cid)
            except _Unknown:
                continue
            if found is not None:
                return found
        raise OrderOutcomeUnknown(
            f"alpaca broker: order {cid} outcome unknown ({why}); not found after {self.settle_attempts} "
            "look-ups; it stays in flight and is looked up again, never resent blind"
        )

    # ---- the port ------------------------------------------------------------------------------------------

    def on_bar(self, symbol: str, bar: MarketBar) -> list[BrokerReport]:
        """Remember the bar (no simulated fills: the venue fills)."""
        self._prices[_key(symbol)] = bar.close
        return []

    def submit(self, order: Order, limit_price: float | None = None) -> BrokerReport:
        """Send ``order`` (market, or limit at ``limit_price``, default ``order.limit_price``) once under its
        client order id."""
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

        cid = order.client_order_id
        limit_price = limit_price if limit_price is not None else order.limit_price
        if _key(order.symbol) not in self.symbols:
            return BrokerReport(cid, "", OrderStatus.REJECTED, reason=f"UNKNOWN_SYMBOL: {order.symbol} not configured")
        fields = {
            "symbol": alpaca_symbol(order.symbol, self.asset_class),
            "qty": order.quantity,
            "side": OrderSide.BUY if order.side.sign > 0 else OrderSide.SELL,
            "time_in_force": TimeInForce.GTC if self.asset_class == "crypto" else TimeInForce.DAY,
            "client_order_id": cid,
        }
        request = (
            MarketOrderRequest(**fields)
            if limit_price is None
            else LimitOrderRequest(**fields, limit_price=round(limit_price, 2 if limit_price >= 1 else 4))
        )
        try:
            return self._report(self._call(f"submit {cid}", "submit_order", request))
        except _Unknown as exc:
            return self._settle(cid, str(exc))
        except _Refused as exc:
            if DUPLICATE_TEXT in exc.message:  # already submitted (the client's own retry met the first try)
                return self._settle(cid, "already submitted")
            if exc.code == 40310000 or "buying power" in exc.message or "insufficient" in exc.message:
                return BrokerReport(cid, "", OrderStatus.REJECTED, reason=f"INSUFFICIENT_BALANCE: {exc.message}")
            return BrokerReport(cid, "", OrderStatus.REJECTED, reason=f"VENUE_REJECTED: {exc}")

    def lookup(self, client_order_id: str) -> BrokerReport | None:
        """The venue's order with that client order id, or None (404)."""
        try:
            return self._find(client_order_id)
        except _Unknown as exc:
            raise ExecutionError(f"alpaca broker: venue unavailable: {exc}") from None

    def open_orders(self) -> list[VenueOrder]:
        """Every open order of the account (``GET /v2/orders?status=open``, pages of 500, oldest first).

        The whole account is listed, like :meth:`positions`: an order on a symbol this strategy does not
        trade is still an order the ledger does not know.
        """
        from alpaca.common.enums import Sort
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        seen: dict[str, Any] = {}
        after = None
        while True:
            page = GetOrdersRequest(
                status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_PAGE, direction=Sort.ASC, after=after, nested=False
            )
            rows = self._read("open orders", "get_orders", page)
            fresh = [r for r in rows if str(r.id) not in seen]
            for raw in fresh:
                seen[str(raw.id)] = raw
            if len(rows) < OPEN_ORDERS_PAGE:
                break
            if not fresh:  # a full page of orders already seen: the listing cannot move on
                raise ExecutionError(f"alpaca broker: open orders: more than {OPEN_ORDERS_PAGE} share one timestamp")
            # ``after`` is exclusive: step back a microsecond so orders sharing the last timestamp are not skipped
            after = max(r.submitted_at for r in rows) - dt.timedelta(microseconds=1)
        out = []
        for raw in seen.values():
            side = Side.BUY if str(getattr(raw.side, "value", raw.side)) == "buy" else Side.SELL
            symbol = self.symbols.get(_key(raw.symbol), raw.symbol)
            limit = float(raw.limit_price) if raw.limit_price is not None else None
            qty, done = float(raw.qty or 0), float(raw.filled_qty or 0)
            out.append(VenueOrder(raw.client_order_id, str(raw.id), symbol, side, qty, done, limit))
        return out

    def cancel(self, client_order_id: str) -> BrokerReport | None:
        """Ask the venue to cancel the order; return its report afterwards (a fill may have won the race)."""
        report = self.lookup(client_order_id)
        if report is None or report.status is not OrderStatus.ACCEPTED:
            return report
        try:
            self._call(f"cancel {client_order_id}", "cancel_order_by_id", report.broker_order_id)
        except _Refused as exc:
            if exc.status not in (404, 422):  # 422: no longer cancelable (filled meanwhile)
                raise ExecutionError(f"alpaca broker: cancel {client_order_id} refused: {exc}") from None
        except _Unknown as exc:
            raise ExecutionError(f"alpaca broker: venue unavailable: {exc}") from None
        return self.lookup(client_order_id)

    def positions(self) -> dict[str, Position]:
        """Every position the venue reports, by quantgate symbol (unknown symbols kept as the venue spells them)."""
        out = {}
        for raw in self._read("positions", "get_all_positions"):
            side = str(getattr(raw.side, "value", raw.side))
            qty = abs(float(raw.qty)) * (-1 if side == "short" else 1)
            symbol = self.symbols.get(_key(raw.symbol), raw.symbol)
            if qty != 0:
                out[symbol] = Position(symbol, qty, float(raw.avg_entry_price))
        return out

    def account(self) -> AccountSnapshot:
        """Cash and positions."""
        raw = self._read("account", "get_account")
        if raw.cash is None:
            raise ExecutionError("alpaca broker: the account has no cash field")
        return AccountSnapshot(cash=float(raw.cash), positions=self.positions())
