"""A local Binance spot venue on 127.0.0.1 speaking the REST wire format python-binance uses.

Signed endpoints check ``X-MBX-APIKEY``, the HMAC-SHA256 ``signature`` over query string + body, and
``timestamp`` within ``[server - recvWindow, server + 1 s]`` (``skew_ms`` shifts the server clock).
Orders are checked against the ``exchangeInfo`` filters it serves; MARKET orders fill at ``prices``
(``market_fill_ratio`` < 1 makes them end EXPIRED partly filled, over two trades); LIMIT orders rest.

Faults are scripted per path with :meth:`BinanceVenue.fault` (``accept_then_500``: the order is booked
but the answer is a 500; ``accept_then_1007``; ``accept_then_hang``: booked, then no answer for
``hang_s``; ``503``/``500``/``502``/``429``: refused before booking; ``hang``: nothing handled, no answer
for ``hang_s`` (a hung venue); method and path ``"*"`` match every request; ``fill_first``: the resting
order named by the request fills just before it is handled, e.g. a cancel that a fill beats).
``commission_asset`` is the asset fees are charged in, moving balances the way Binance does: ``"quote"``
(0.1 % of the notional, in the quote asset, on every fill), ``"base"`` (Binance's default: 0.1 % of what
the account receives, in that asset: the base asset on a buy, the quote asset on a sell) or a third asset
such as ``"BNB"`` (0.075 % of the notional, valued at ``fee_asset_prices[asset]`` quote units and taken from
that asset's balance; without enough of it Binance charges the received asset instead, like ``"base"``).
``GET /api/v3/ticker/price`` serves ``prices`` and ``tickers`` (public prices of symbols not traded here,
e.g. ``BNBUSDT``); another symbol is error -1121 "Invalid symbol." (HTTP 400).
``echo_keys`` puts the API key and secret into every error message (the secret only when the signature
proved the client knows it), so tests can check the adapter never repeats them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import POLL_INTERVAL_S

FILTERS = [
    {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
    {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000", "stepSize": "0.00010000"},
    {
        "filterType": "NOTIONAL",
        "minNotional": "5.00000000",
        "applyMinToMarket": True,
        "maxNotional": "9000000.00",
        "applyMaxToMarket": False,
        "avgPriceMins": 5,
    },
]


class BinanceVenue:
    """The fake venue: books, balances, a request log and a fault script."""

    def __init__(
        self, key: str, secret: str, symbols: dict[str, float] | None = None, commission_asset: str = "quote"
    ) -> None:
        self.key, self.secret = key, secret
        self.prices: dict[str, float] = dict(symbols or {"BTCUSDT": 50_000.0})
        self.commission_asset = commission_asset
        self.fee_asset_prices: dict[str, Decimal] = {"BNB": Decimal("600")}  # what the venue charges a fee asset at
        self.tickers: dict[str, float] = {"BNBUSDT": 600.0}  # public prices of symbols not traded here
        self.balances: dict[str, Decimal] = {"USDT": Decimal("100000")}
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.skew_ms = 0
        self.market_fill_ratio = 1.0
        self.echo_keys = False
        self._seen_key = ""
        self.hang_s = 3.0
        self.min_notional = 5.0  # what the venue enforces (exchangeInfo keeps advertising FILTERS)
        self._faults: list[list[Any]] = []  # [method path, kind, times, after]
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # ---- scripting -----------------------------------------------------------------------------------------
    def fault(
        self, kind: str, match: str = "/api/v3/order", method: str = "POST", times: int = 1, after: int = 0
    ) -> None:
        """``kind`` for ``times`` requests ``method match`` (exact path), after letting ``after`` through."""
        with self._lock:
            self._faults.append([f"{method} {match}", kind, times, after])

    def heal(self) -> None:
        """Drop every scripted fault that is left (the venue answers normally again)."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault[0] in (f"{method} {path}", "* *"):  # "* *": every request (a storm, a hung venue)
                    if fault[3] > 0:
                        fault[3] -= 1
                        return None
                    fault[2] -= 1
                    if fault[2] <= 0:
                        self._faults.remove(fault)
                    return fault[1]
        return None

    def fill_resting(self, cid: str) -> None:
        """Fill the resting order ``cid`` completely at its limit price (the market came to it)."""
        with self._lock:
            order = next(o for o in self.orders_with(cid) if o["status"] == "NEW")
            self._trade(order, Decimal(order["origQty"]) - Decimal(order["executedQty"]), Decimal(order["price"]))
            order["status"] = "FILLED"

    def move(self, symbol: str, price: float) -> None:
        """The market moves to ``price``: resting LIMIT orders it reaches fill completely at their limit."""
        with self._lock:
            self.prices[symbol] = price
            for order in self.orders:
                if order["symbol"] != symbol or order["type"] != "LIMIT" or order["status"] != "NEW":
                    continue
                limit = float(order["price"])
                if (price <= limit) if order["side"] == "BUY" else (price >= limit):
                    self.fill_resting(order["clientOrderId"])

    def orders_with(self, cid: str) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["clientOrderId"] == cid]

    # ---- protocol ------------------------------------------------------------------------------------------
    def _err(self, status: int, code: int, msg: str) -> tuple[int, dict[str, Any]]:
        if self.echo_keys:  # the key the client sent; the secret only to a client that proved it knows it
            secret = self.secret if code not in (-1022, -2015) else "(withheld)"
            msg = f"{msg} (key {self._seen_key}, secret {secret})"
        return status, {"code": code, "msg": msg}

    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.skew_ms

    def _check_signed(self, headers: dict[str, str], query: str, body: str) -> tuple[int, dict[str, Any]] | None:
        self._seen_key = headers.get("x-mbx-apikey", "")
        if headers.get("x-mbx-apikey") != self.key:
            return self._err(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = query + body
        if "signature=" not in total:
            return self._err(400, -1102, "Mandatory parameter 'signature' was not sent.")
        payload, _, signature = total.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._err(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload))
        ts, window = int(params.get("timestamp", 0)), int(params.get("recvWindow", 5000))
        server = self.server_ms()
        if not (server - window <= ts <= server + 1000):
            return self._err(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return None

    def exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self.server_ms(),
            "symbols": [
                {"symbol": s, "status": "TRADING", "baseAsset": s[:-4], "quoteAsset": s[-4:], "filters": FILTERS}
                for s in self.prices
            ],
        }

    def _filter_failure(self, qty: Decimal, price: Decimal, market: bool = False) -> str | None:
        if qty < Decimal("0.0001") or qty > Decimal("9000") or (qty / Decimal("0.0001")) % 1 != 0:
            return "Filter failure: LOT_SIZE"
        if not market and (price / Decimal("0.01")) % 1 != 0:  # PRICE_FILTER checks a limit price only
            return "Filter failure: PRICE_FILTER"
        if qty * price < Decimal(str(self.min_notional)):
            return "Filter failure: NOTIONAL"
        return None

    def _place(self, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        symbol, side, kind = p["symbol"], p["side"], p["type"]
        if symbol not in self.prices:
            return self._err(400, -1121, "Invalid symbol.")
        cid = p.get("newClientOrderId", "")
        if any(o["status"] in ("NEW", "PARTIALLY_FILLED") for o in self.orders_with(cid)):
            return self._err(400, -2010, "Duplicate order sent.")
        qty = Decimal(p["quantity"])
        market = Decimal(str(self.prices[symbol]))
        price = Decimal(p["price"]) if kind == "LIMIT" else market
        failure = self._filter_failure(qty, price, market=kind == "MARKET")
        if failure:
            return self._err(400, -1013, failure)
        base, quote = symbol[:-4], symbol[-4:]
        if side == "BUY" and self.balances.get(quote, Decimal(0)) < qty * price:
            return self._err(400, -2010, "Account has insufficient balance for requested action.")
        if side == "SELL" and self.balances.get(base, Decimal(0)) < qty:
            return self._err(400, -2010, "Account has insufficient balance for requested action.")
        now = self.server_ms()
        order = {
            "symbol": symbol,
            "orderId": next(self._ids),
            "orderListId": -1,
            "clientOrderId": cid,
            "transactTime": now,
            "price": p.get("price", "0.00000000"),
            "origQty": str(qty),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": p.get("timeInForce", "GTC"),
            "type": kind,
            "side": side,
            "time": now,
            "updateTime": now,
        }
        self.orders.append(order)
        fills = []
        if kind == "MARKET":
            filled = (qty * Decimal(str(self.market_fill_ratio))).quantize(Decimal("0.0001"))
            parts = [filled] if self.market_fill_ratio >= 1 else [filled / 2, filled - filled / 2]
            for part in parts:
                if part > 0:
                    fills.append(self._trade(order, part, market))
            order["status"] = "FILLED" if filled == qty else "EXPIRED"
        elif (market <= price) if side == "BUY" else (market >= price):  # a marketable LIMIT: the market price
            fills.append(self._trade(order, qty, market))
            order["status"] = "FILLED"
        return 200, {**order, "fills": fills}

    def _commission(self, side: str, base: str, quote: str, qty: Decimal, price: Decimal) -> tuple[Decimal, str]:
        """The fee of one fill and its asset, as ``commission_asset`` says (see the module docstring)."""
        eight = Decimal("0.00000001")
        mode = self.commission_asset
        if mode not in ("quote", "base"):
            fee = (qty * price * Decimal("0.00075") / self.fee_asset_prices[mode]).quantize(eight)
            if self.balances.get(mode, Decimal(0)) >= fee:
                return fee, mode
            mode = "base"  # not enough of the fee asset: Binance charges the asset received
        if mode == "base" and side == "BUY":
            return (qty * Decimal("0.001")).quantize(eight), base
        return (qty * price * Decimal("0.001")).quantize(eight), quote

    def _trade(self, order: dict[str, Any], qty: Decimal, price: Decimal) -> dict[str, Any]:
        base, quote = order["symbol"][:-4], order["symbol"][-4:]
        sign = 1 if order["side"] == "BUY" else -1
        commission, asset = self._commission(order["side"], base, quote, qty, price)
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * qty
        self.balances[quote] = self.balances.get(quote, Decimal(0)) - sign * qty * price
        self.balances[asset] = self.balances.get(asset, Decimal(0)) - commission
        order["executedQty"] = str(Decimal(order["executedQty"]) + qty)
        order["cummulativeQuoteQty"] = str(Decimal(order["cummulativeQuoteQty"]) + qty * price)
        trade = {
            "symbol": order["symbol"],
            "id": next(self._ids),
            "orderId": order["orderId"],
            "price": str(price),
            "qty": str(qty),
            "quoteQty": str(qty * price),
            "commission": str(commission),
            "commissionAsset": asset,
            "time": self.server_ms(),
            "isBuyer": sign > 0,
        }
        self.trades.append(trade)
        return {
            "price": str(price),
            "qty": str(qty),
            "commission": str(commission),
            "commissionAsset": asset,
            "tradeId": trade["id"],
        }

    def _ticker(self, symbol: str | None) -> tuple[int, Any]:
        listed = {**self.tickers, **self.prices}
        if symbol is None:
            return 200, [{"symbol": s, "price": f"{p:.8f}"} for s, p in listed.items()]
        if symbol not in listed:
            return self._err(400, -1121, "Invalid symbol.")
        return 200, {"symbol": symbol, "price": f"{listed[symbol]:.8f}"}

    def handle(self, method: str, path: str, query: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            if path == "/api/v3/ping":
                return 200, {}
            if path == "/api/v3/time":
                return 200, {"serverTime": self.server_ms()}
            if path == "/api/v3/exchangeInfo":
                return 200, self.exchange_info()
            if path == "/api/v3/ticker/price":
                return self._ticker(dict(parse_qsl(query)).get("symbol"))
            denied = self._check_signed(headers, query, body)
            if denied is not None:
                return denied
            p = dict(parse_qsl(query + ("&" if query and body else "") + body))
            if path == "/api/v3/order" and method == "POST":
                return self._place(p)
            if path == "/api/v3/order" and method == "GET":
                found = [
                    o
                    for o in self.orders
                    if o["symbol"] == p["symbol"]
                    and (o["clientOrderId"] == p.get("origClientOrderId") or str(o["orderId"]) == p.get("orderId"))
                ]
                return (200, found[-1]) if found else self._err(400, -2013, "Order does not exist.")
            if path == "/api/v3/order" and method == "DELETE":
                found = [
                    o
                    for o in self.orders
                    if o["symbol"] == p["symbol"]
                    and o["clientOrderId"] == p.get("origClientOrderId")
                    and o["status"] in ("NEW", "PARTIALLY_FILLED")
                ]
                if not found:
                    return self._err(400, -2011, "Unknown order sent.")
                found[-1].update(status="CANCELED", updateTime=self.server_ms())
                return 200, found[-1]
            if path == "/api/v3/openOrders" and method == "GET":  # symbol optional: every symbol without it
                return 200, [
                    o
                    for o in self.orders
                    if o["status"] in ("NEW", "PARTIALLY_FILLED") and p.get("symbol", o["symbol"]) == o["symbol"]
                ]
            if path == "/api/v3/myTrades":
                return 200, [
                    t
                    for t in self.trades
                    if t["symbol"] == p["symbol"] and ("orderId" not in p or str(t["orderId"]) == p["orderId"])
                ]
            if path == "/api/v3/account":
                return 200, {
                    "balances": [{"asset": a, "free": str(v), "locked": "0"} for a, v in self.balances.items()]
                }
            return self._err(404, -1000, f"unknown path {path}")

    # ---- lifecycle -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BinanceVenue:
        venue = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                headers = {k.lower(): v for k, v in self.headers.items()}
                venue.requests.append((self.command, parts.path))
                fault = venue._take_fault(self.command, parts.path)
                echo = f" (key {headers.get('x-mbx-apikey', '')}, secret {venue.secret})" if venue.echo_keys else ""
                if fault in ("503", "500", "502"):
                    return self._send(int(fault), {"code": -1000, "msg": "Service Unavailable" + echo})
                if fault == "429":  # rate limited: the request was refused, not executed
                    return self._send(429, {"code": -1003, "msg": "Too many requests; current limit is 1200." + echo})
                if fault == "hang":  # a hung venue: nothing is handled, no answer for hang_s
                    time.sleep(venue.hang_s)
                    self.close_connection = True
                    return None
                if fault == "fill_first":  # the resting order fills just before this request is handled
                    venue.fill_resting(dict(parse_qsl(parts.query + "&" + body)).get("origClientOrderId", ""))
                status, payload = venue.handle(self.command, parts.path, parts.query, body, headers)
                if fault == "accept_then_500":
                    return self._send(500, {"code": -1000, "msg": "Internal error"})
                if fault == "accept_then_1007":
                    return self._send(408, {"code": -1007, "msg": "Timeout waiting for response from backend server."})
                if fault == "accept_then_hang":
                    time.sleep(venue.hang_s)
                    self.close_connection = True
                    return None
                return self._send(status, payload)

            do_GET = do_POST = do_DELETE = _any

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_S,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
