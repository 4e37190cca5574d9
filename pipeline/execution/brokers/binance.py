"""Binance spot behind the broker port, through ``python-binance``'s ``Client`` with ``API_URL`` redirected.

Environment: ``BINANCE_API_KEY`` and ``BINANCE_API_SECRET`` (the names the data source already uses),
``QUANTGATE_BINANCE_URL`` (base, default ``https://api.binance.com``), ``QUANTGATE_BROKER_DEADLINE``.

What the adapter guarantees
    * Orders carry ``newClientOrderId`` = the ledger's client order id. Binance keeps that id unique only
      among *open* orders, so it is no idempotency key: :meth:`BinanceBroker.submit` looks the id up first
      and returns the existing order's report when the venue knows it.
    * Orders are checked locally against ``exchangeInfo`` filters: the quantity is rounded down to
      LOT_SIZE's step and a limit price to PRICE_FILTER's tick (buys down, sells up); what still fails
      (below the minimum quantity or notional, above the maximum) is REJECTED with a coded reason
      (``QUANTITY_BELOW_MINIMUM: ...``) without a request.
    * Error codes map to coded reasons: -2010 ``INSUFFICIENT_BALANCE`` or ``DUPLICATE_ORDER`` (the duplicate
      is looked up and its report returned), -1013 ``FILTER_FAILURE``, -2013 not found, -1021 (the clock
      is re-synchronised with the server and the request sent once more: -1021 means nothing was done), -1022 and
      bad keys raise :class:`ExecutionError` (every order would fail).
    * A 5xx, -1007, a dropped connection or the deadline leaves the outcome UNKNOWN: the order is looked
      up by client order id (never resent blind); when that does not settle it
      :class:`~pipeline.errors.OrderOutcomeUnknown` is raised and the ledger's order stays in flight for
      the next reconcile.
    * Fills are summed over distinct venue trade ids; a MARKET/IOC order that ends EXPIRED or CANCELED with
      a nonzero executed quantity is reported FILLED for the quantity that executed.
    * Fees are in the quote asset: a base-asset commission at the fill's price (the filled quantity is then
      net of it, as the base balance is), a third asset's (BNB) at the venue's current ``<ASSET><QUOTE>``
      ticker price; a commission that cannot be priced raises :class:`~pipeline.errors.OrderOutcomeUnknown`
      (the order stays in flight, never refused or resent).
    * Keys never appear in errors or reports (:meth:`VenueKeys.redact`).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pipeline.errors import ExecutionError, OrderOutcomeUnknown
from pipeline.execution.broker import BrokerReport, MarketBar, VenueOrder
from pipeline.execution.brokers._common import Deadline, VenueKeys, broker_deadline, call_with_deadline
from pipeline.execution.model import AccountSnapshot, Order, OrderStatus, Position, Side
from pipeline.sources.binance import binance_symbol
from pipeline.sources.symbols import split_pair

KEY_ENV, SECRET_ENV, URL_ENV = "BINANCE_API_KEY", "BINANCE_API_SECRET", "QUANTGATE_BINANCE_URL"
DEFAULT_URL = "https://api.binance.com"

#: Error codes whose outcome is unknown (the request may or may not have been executed).
UNKNOWN_CODES = frozenset({-1007, -1006})
#: Error codes that mean our keys or signing are wrong: every request would fail.
AUTH_CODES = frozenset({-1022, -2014, -2015})


class _Unknown(Exception):
    pass


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def check_filters(
    filters: list[dict[str, Any]],
    quantity: float,
    *,
    market: bool,
    price: float | None,
    buy: bool,
) -> tuple[Decimal, Decimal | None, str | None]:
    """Round ``quantity`` (and a limit ``price``) to the symbol's filters; a reason when they still fail.

    ``price`` is the limit price, or for a market order the reference price used for the notional checks
    (None skips them). Returns ``(quantity, limit_price, denial)``; ``denial`` starts with a code.
    """
    by_type = {f["filterType"]: f for f in filters}
    qty = _dec(quantity)
    px = _dec(price) if price is not None else None
    lot = by_type.get("LOT_SIZE")
    if lot is not None:
        step, min_qty, max_qty = _dec(lot["stepSize"]), _dec(lot["minQty"]), _dec(lot["maxQty"])
        if step > 0:
            qty = (qty / step).to_integral_value(ROUND_FLOOR) * step
        if qty < min_qty or qty <= 0:
            return qty, None, f"QUANTITY_BELOW_MINIMUM: {_fmt(qty)} < minQty {_fmt(min_qty)} (LOT_SIZE)"
        if max_qty > 0 and qty > max_qty:
            return qty, None, f"QUANTITY_ABOVE_MAXIMUM: {_fmt(qty)} > maxQty {_fmt(max_qty)} (LOT_SIZE)"
    limit = None
    if not market and px is not None:
        pf = by_type.get("PRICE_FILTER")
        if pf is not None:
            tick, lo, hi = _dec(pf["tickSize"]), _dec(pf["minPrice"]), _dec(pf["maxPrice"])
            if tick > 0:
                px = (px / tick).to_integral_value(ROUND_FLOOR if buy else ROUND_CEILING) * tick
            if lo > 0 and px < lo:
                return qty, None, f"PRICE_BELOW_MINIMUM: {_fmt(px)} < minPrice {_fmt(lo)} (PRICE_FILTER)"
            if hi > 0 and px > hi:
                return qty, None, f"PRICE_ABOVE_MAXIMUM: {_fmt(px)} > maxPrice {_fmt(hi)} (PRICE_FILTER)"
        limit = px
    if px is not None:
        notional = qty * px
        mn = by_type.get("MIN_NOTIONAL")
        if mn is not None and (not market or mn.get("applyToMarket", True)) and notional < _dec(mn["minNotional"]):
            return (
                qty,
                None,
                f"NOTIONAL_BELOW_MINIMUM: {_fmt(notional)} < {_fmt(_dec(mn['minNotional']))} (MIN_NOTIONAL)",
            )
        nf = by_type.get("NOTIONAL")
        if nf is not None:
            lo = _dec(nf.get("minNotional", "0"))
            hi = _dec(nf.get("maxNotional", "0"))
            if (not market or nf.get("applyMinToMarket", True)) and notional < lo:
                return qty, None, f"NOTIONAL_BELOW_MINIMUM: {_fmt(notional)} < {_fmt(lo)} (NOTIONAL)"
            if (not market or nf.get("applyMaxToMarket", False)) and hi > 0 and notional > hi:
                return qty, None, f"NOTIONAL_ABOVE_MAXIMUM: {_fmt(notional)} > {_fmt(hi)} (NOTIONAL)"
    return qty, limit, None


class BinanceBroker:
    """One Binance spot account trading ``symbols`` (quantgate notation, e.g. ``BTCUSDT``).

    Parameters
    ----------
    symbols
        Pairs this account trades; positions are their base-asset balances, cash the quote asset's.
    keys
        API key pair (default: ``BINANCE_API_KEY``/``BINANCE_API_SECRET`` from the environment).
    base_url
        Venue base URL (default: ``QUANTGATE_BINANCE_URL``, else the real one); ``/api`` is appended.
    deadline
        Seconds one call may take (default ``QUANTGATE_BROKER_DEADLINE``).
    settle_attempts, settle_wait
        Look-ups (and the pause between them) that try to settle an unknown outcome before giving up.
    """

    name = "binance"

    def __init__(
        self,
        symbols: list[str],
        *,
        keys: VenueKeys | None = None,
        base_url: str | None = None,
        deadline: float | None = None,
        settle_attempts: int = 3,
        settle_wait: float = 0.5,
    ) -> None:
        import os

        from binance.client import Client

        if not symbols:
            raise ExecutionError("binance broker: no symbols to trade")
        self.keys = keys or VenueKeys.from_env("binance", KEY_ENV, SECRET_ENV)
        self.symbols = {binance_symbol(s): s for s in symbols}
        quotes = {split_pair(s).quote for s in self.symbols}
        if len(quotes) != 1:
            raise ExecutionError(f"binance broker: symbols must share one quote asset (got {sorted(quotes)})")
        self.quote = quotes.pop()
        self.deadline = deadline if deadline is not None else broker_deadline()
        self.settle_attempts, self.settle_wait = max(1, settle_attempts), settle_wait
        base = (base_url or os.environ.get(URL_ENV, DEFAULT_URL)).rstrip("/")
        self.client = Client(self.keys.key, self.keys.secret, ping=False)
        self.client.API_URL = base + "/api"
        self.client.REQUEST_TIMEOUT = self.deadline
        self._filters: dict[str, list[dict[str, Any]]] = {}
        self._prices: dict[str, float] = {}
        self._symbol_of: dict[str, str] = {}  # client order id -> venue symbol

    # ---- plumbing ------------------------------------------------------------------------------------------

    def _call(self, what: str, fn_name: str, **params: Any) -> Any:
        """One client call under the deadline; raises _Unknown, _Refused or ExecutionError (auth, garbage)."""
        import requests
        from binance.exceptions import BinanceAPIException, BinanceRequestException

        fn = getattr(self.client, fn_name)
        try:
            try:
                return call_with_deadline(lambda: fn(**dict(params)), self.deadline)
            except BinanceAPIException as exc:
                if exc.code != -1021 or fn_name == "get_server_time":
                    raise
                self._sync_clock()  # -1021 is a refusal (nothing was done): resync with the server, send once more
                return call_with_deadline(lambda: fn(**dict(params)), self.deadline)
        except Deadline as exc:
            raise _Unknown(f"{what}: {exc}") from None
        except BinanceAPIException as exc:
            code, message = int(exc.code or 0), self.keys.redact(exc.message)
            if exc.status_code >= 500 or code in UNKNOWN_CODES:
                raise _Unknown(f"{what}: HTTP {exc.status_code} code {code}: {message}") from None
            if code in AUTH_CODES or exc.status_code in (401, 403):
                raise ExecutionError(f"binance broker: {what} refused: code {code}: {message}") from None
            raise _Refused(code, message) from None
        except (requests.RequestException, BinanceRequestException) as exc:
            raise _Unknown(f"{what}: {exc.__class__.__name__}: {self.keys.redact(exc)}") from None

    def _read(self, what: str, fn_name: str, **params: Any) -> Any:
        """A read: unknown or refused answers become one ExecutionError line."""
        try:
            return self._call(what, fn_name, **params)
        except _Unknown as exc:
            raise ExecutionError(f"binance broker: venue unavailable: {exc}") from None
        except _Refused as exc:
            raise ExecutionError(f"binance broker: {what} refused: code {exc.code}: {exc.message}") from None

    def _sync_clock(self) -> None:
        server = self._read("server time", "get_server_time")["serverTime"]
        self.client.timestamp_offset = int(server) - int(time.time() * 1000)

    def filters(self, symbol: str) -> list[dict[str, Any]]:
        """The exchangeInfo filters of venue symbol ``symbol`` (read once)."""
        if symbol not in self._filters:
            info = self._read("exchangeInfo", "get_exchange_info")
            for entry in info.get("symbols", []):
                self._filters[entry["symbol"]] = list(entry.get("filters", []))
            if symbol not in self._filters:
                raise ExecutionError(f"binance broker: {symbol} is not listed in exchangeInfo")
        return self._filters[symbol]

    # ---- reports -------------------------------------------------------------------------------------------

    def _fee_price(self, cid: str, asset: str, commission: Decimal) -> Decimal:
        """The venue's current price of ``asset`` in the quote asset (``GET /api/v3/ticker/price``).

        Read afresh for every report (a price is never carried from one bar to the next). A commission that
        cannot be valued fails closed: the order's outcome stays unknown (it may well be filled, so it is
        neither refused nor resent) and the next reconcile looks it up again.
        """
        pair = f"{asset}{self.quote}"
        try:
            answer = self._call(f"price of {pair}", "get_symbol_ticker", symbol=pair)
            price = _dec(answer["price"])
            if not price.is_finite() or price <= 0:
                raise ValueError(f"price {answer['price']!r}")
            return price
        except _Refused as exc:
            why = f"code {exc.code}: {exc.message}"
        except (_Unknown, ExecutionError) as exc:
            why = str(exc)
        except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
            why = f"unreadable answer: {exc.__class__.__name__}: {self.keys.redact(exc)}"
        raise OrderOutcomeUnknown(
            f"binance broker: order {cid}: commission {_fmt(commission)} {asset} cannot be valued in "
            f"{self.quote} ({pair} price: {why}); it stays in flight and is looked up again, never resent"
        )

    def _report(self, symbol: str, raw: dict[str, Any], trades: list[dict[str, Any]] | None = None) -> BrokerReport:
        """The port's report of one venue order (fills deduplicated by trade id when ``trades`` are given).

        Commissions are valued in the quote asset: a base-asset one at the fill's price, a third asset's
        (BNB) at the venue's current ``<ASSET><QUOTE>`` price. A commission paid in the base asset also
        changes what the account holds, so the filled quantity is net of it (the base balance moves by
        executed quantity minus commission on a buy): the ledger's position then equals the venue's
        balance, and the quote spent is still ``filled_quantity * avg_price + fee``.
        """
        cid = raw.get("clientOrderId", "")
        executed = _dec(raw.get("executedQty", 0) or 0)
        quote_qty = _dec(raw.get("cummulativeQuoteQty", 0) or 0)
        fills = trades if trades is not None else raw.get("fills", [])
        seen: dict[Any, dict[str, Any]] = {}
        for fill in fills or []:
            seen.setdefault(fill.get("tradeId", fill.get("id")), fill)
        fee, base_fee, third = Decimal(0), Decimal(0), {}
        base = split_pair(symbol).base
        if seen:
            qty = sum((_dec(f["qty"]) for f in seen.values()), Decimal(0))
            notional = sum((_dec(f["qty"]) * _dec(f["price"]) for f in seen.values()), Decimal(0))
            executed, quote_qty = max(executed, qty), max(quote_qty, notional)
            for f in seen.values():
                asset, commission = f.get("commissionAsset"), _dec(f.get("commission", 0) or 0)
                if not commission:
                    continue
                if asset == self.quote:
                    fee += commission
                elif asset == base:
                    fee += commission * _dec(f["price"])
                    base_fee += commission
                else:  # a third asset (BNB): summed, then valued below
                    third[str(asset)] = third.get(str(asset), Decimal(0)) + commission
        for asset, commission in third.items():  # the venue's price now (one read per asset), or unknown
            fee += commission * self._fee_price(cid, asset, commission)
        avg = float(quote_qty / executed) if executed > 0 else None
        side_sign = -1 if raw.get("side") == "SELL" else 1
        held = float(executed - side_sign * base_fee)  # what the account's base balance moved by (signed by side)
        venue = raw.get("status", "")
        when = raw.get("updateTime") or raw.get("transactTime")
        filled_at = dt.datetime.fromtimestamp(int(when) / 1000, dt.UTC) if when else None
        oid = str(raw.get("orderId", ""))
        if venue == "FILLED" or (venue in ("EXPIRED", "CANCELED", "EXPIRED_IN_MATCH") and executed > 0):
            return BrokerReport(cid, oid, OrderStatus.FILLED, held, avg, float(fee), None, filled_at)
        if venue in ("NEW", "PARTIALLY_FILLED", "PENDING_NEW"):
            return BrokerReport(cid, oid, OrderStatus.ACCEPTED, held, avg, float(fee))
        return BrokerReport(cid, oid, OrderStatus.REJECTED, 0.0, None, 0.0, f"VENUE_{venue or 'UNKNOWN'}")

    def _find(self, symbol: str, cid: str) -> BrokerReport | None:
        try:
            raw = self._call(f"look up {cid}", "get_order", symbol=symbol, origClientOrderId=cid)
        except _Refused as exc:
            if exc.code == -2013:
                return None
            raise ExecutionError(f"binance broker: look up {cid} refused: code {exc.code}: {exc.message}") from None
        trades = None
        if float(raw.get("executedQty", 0) or 0) > 0:
            trades = self._read(f"trades of {cid}", "get_my_trades", symbol=symbol, orderId=raw["orderId"])
        return self._report(symbol, raw, trades)

    # ---- the port ------------------------------------------------------------------------------------------

    def on_bar(self, symbol: str, bar: MarketBar) -> list[BrokerReport]:
        """Remember the bar's close as the reference price of market orders' notional checks."""
        self._prices[binance_symbol(symbol)] = bar.close
        return []

    def submit(self, order: Order, limit_price: float | None = None) -> BrokerReport:
        """Send ``order`` (a MARKET order, or LIMIT GTC at ``limit_price``, default ``order.limit_price``) once
        under its client order id."""
        symbol, cid = binance_symbol(order.symbol), order.client_order_id
        limit_price = limit_price if limit_price is not None else order.limit_price
        if symbol not in self.symbols:
            return BrokerReport(cid, "", OrderStatus.REJECTED, reason=f"UNKNOWN_SYMBOL: {order.symbol} not configured")
        self._symbol_of[cid] = symbol
        market = limit_price is None
        reference = limit_price if limit_price is not None else self._prices.get(symbol)
        qty, price, denial = check_filters(
            self.filters(symbol), order.quantity, market=market, price=reference, buy=order.side.sign > 0
        )
        if denial is not None:
            return BrokerReport(cid, "", OrderStatus.REJECTED, reason=denial)
        try:
            known = self._find(symbol, cid)
        except _Unknown as exc:
            raise ExecutionError(f"binance broker: venue unavailable before sending {cid}: {exc}") from None
        if known is not None:
            return known
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": order.side.value,
            "type": "MARKET" if market else "LIMIT",
            "quantity": _fmt(qty),
            "newClientOrderId": cid,
            "newOrderRespType": "FULL",
        }
        if not market:
            params.update(price=_fmt(price), timeInForce="GTC")
        try:
            return self._report(symbol, self._call(f"submit {cid}", "create_order", **params))
        except _Unknown as exc:
            return self._settle(symbol, cid, str(exc))
        except _Refused as exc:
            return self._refused(symbol, cid, exc)

    def _refused(self, symbol: str, cid: str, exc: _Refused) -> BrokerReport:
        text = exc.message.lower()
        if exc.code == -2010 and "duplicate" in text:
            known = self._settle(symbol, cid, "duplicate client order id")
            return known
        if exc.code == -2010 and "balance" in text:
            reason = f"INSUFFICIENT_BALANCE: {exc.message}"
        elif exc.code == -1013:
            reason = f"FILTER_FAILURE: {exc.message}"
        elif exc.code == -1021:
            reason = f"TIMESTAMP_OUTSIDE_RECV_WINDOW: {exc.message}"
        else:
            reason = f"VENUE_REJECTED: code {exc.code}: {exc.message}"
        return BrokerReport(cid, "", OrderStatus.REJECTED, reason=reason)

    def _settle(self, symbol: str, cid: str, why: str) -> BrokerReport:
        """Look an order of unknown outcome up by client order id; raise OrderOutcomeUnknown if it stays so."""
        for attempt in range(self.settle_attempts):
            if attempt:
                time.sleep(self.settle_wait)
            try:
                found = self._find(symbol, cid)
            except _Unknown:
                continue
            if found is not None:
                return found
        raise OrderOutcomeUnknown(
            f"binance broker: order {cid} outcome unknown ({why}); not found after {self.settle_attempts} "
            "look-ups; it stays in flight and is looked up again, never resent blind"
        )

    def lookup(self, client_order_id: str) -> BrokerReport | None:
        """The venue's order with that client order id (searched on every configured symbol), or None."""
        symbols = [self._symbol_of[client_order_id]] if client_order_id in self._symbol_of else list(self.symbols)
        for symbol in symbols:
            try:
                found = self._find(symbol, client_order_id)
            except _Unknown as exc:
                raise ExecutionError(f"binance broker: venue unavailable: {exc}") from None
            if found is not None:
                self._symbol_of[client_order_id] = symbol
                return found
        return None

    def open_orders(self) -> list[VenueOrder]:
        """Every open order on the configured symbols (``GET /api/v3/openOrders``, one request per symbol)."""
        out = []
        for venue, symbol in self.symbols.items():
            for raw in self._read(f"open orders of {venue}", "get_open_orders", symbol=venue):
                side = Side.BUY if raw.get("side") == "BUY" else Side.SELL
                price = float(raw.get("price") or 0)
                limit = price if raw.get("type") != "MARKET" and price > 0 else None
                cid = raw.get("clientOrderId", "")
                self._symbol_of.setdefault(cid, venue)
                qty, done = float(raw.get("origQty") or 0), float(raw.get("executedQty") or 0)
                out.append(VenueOrder(cid, str(raw.get("orderId", "")), symbol, side, qty, done, limit))
        return out

    def cancel(self, client_order_id: str) -> BrokerReport | None:
        """Ask the venue to cancel the order; return its report afterwards (a fill may have won the race)."""
        report = self.lookup(client_order_id)
        if report is None or report.status is not OrderStatus.ACCEPTED:
            return report
        symbol = self._symbol_of.get(client_order_id) or next(iter(self.symbols))
        try:
            self._call(f"cancel {client_order_id}", "cancel_order", symbol=symbol, origClientOrderId=client_order_id)
        except _Refused as exc:
            if exc.code not in (-2011, -2013):  # -2011: no longer open (filled or canceled meanwhile)
                raise ExecutionError(f"binance broker: cancel {client_order_id} refused: code {exc.code}") from None
        except _Unknown as exc:
            raise ExecutionError(f"binance broker: venue unavailable: {exc}") from None
        return self.lookup(client_order_id)

    def _balances(self) -> dict[str, float]:
        account = self._read("account", "get_account")
        return {b["asset"]: float(b["free"]) + float(b["locked"]) for b in account.get("balances", [])}

    def positions(self) -> dict[str, Position]:
        """The base-asset balance of every configured pair that holds one (an explicit report)."""
        balances = self._balances()
        out = {}
        for venue, symbol in self.symbols.items():
            qty = balances.get(split_pair(venue).base, 0.0)
            if qty != 0:
                out[symbol] = Position(symbol, qty, self._prices.get(venue, 0.0))
        return out

    def account(self) -> AccountSnapshot:
        """Quote-asset balance as cash, plus positions."""
        balances = self._balances()
        positions = {}
        for venue, symbol in self.symbols.items():
            qty = balances.get(split_pair(venue).base, 0.0)
            if qty != 0:
                positions[symbol] = Position(symbol, qty, self._prices.get(venue, 0.0))
        return AccountSnapshot(cash=balances.get(self.quote, 0.0), positions=positions)
