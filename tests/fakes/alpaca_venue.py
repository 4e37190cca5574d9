"""A local Alpaca trading API (``/v2``) on 127.0.0.1 speaking the JSON alpaca-py's ``TradingClient`` parses.

Checks the ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` headers (401 otherwise). A ``client_order_id``
is unique forever (422 ``client_order_id must be unique``, even after a cancel). MARKET orders fill at
``prices`` on arrival (``market_fill_ratio`` < 1 leaves them ``partially_filled``); LIMIT orders rest.

Faults per ``METHOD path`` (:meth:`AlpacaVenue.fault`): ``429``/``504``/``500`` before booking,
``accept_then_504`` (booked, then a 504: the client retries the POST and meets its own id),
``accept_then_500``, ``accept_then_hang`` (booked, no answer for ``hang_s``), ``hang`` (nothing handled, no
answer for ``hang_s``: a hung venue), ``503``; ``"*", "*"`` as method and path matches every request.
``cancel_pending`` leaves a canceled order ``pending_cancel`` and :meth:`AlpacaVenue.fill_resting` fills it.
``echo_keys`` repeats the key and secret the client sent in every error message.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import POLL_INTERVAL_S

#: Order statuses ``status=closed`` lists; every other status is open.
CLOSED = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class AlpacaVenue:
    """The fake venue: orders, positions, cash, a request log and a fault script."""

    def __init__(self, key: str, secret: str, prices: dict[str, float] | None = None) -> None:
        self.key, self.secret = key, secret
        self.prices: dict[str, float] = dict(prices or {"AAPL": 200.0, "BTC/USD": 50_000.0})
        self.cash = 100_000.0
        self.positions: dict[str, float] = {}
        self.orders: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.market_fill_ratio = 1.0
        self.echo_keys = False
        self.hang_s = 3.0
        self.cancel_pending = False  # DELETE leaves the order pending_cancel (a fill may still arrive)
        self._faults: list[list[Any]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    def fault(self, kind: str, path: str = "/v2/orders", method: str = "POST", times: int = 1, after: int = 0) -> None:
        """``kind`` for ``times`` requests ``method path`` (exact), after letting ``after`` through."""
        with self._lock:
            self._faults.append([f"{method} {path}", kind, times, after])

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
        """Fill the working order ``cid`` completely at its limit price (the market came to it)."""
        with self._lock:
            order = next(o for o in self.orders_with(cid) if o["status"] not in ("filled", "canceled", "expired"))
            qty, price = float(order["qty"]), float(order["limit_price"] or self.prices[order["symbol"]])
            sign = 1 if order["side"] == "buy" else -1
            self.cash -= sign * qty * price
            self.positions[order["symbol"]] = self.positions.get(order["symbol"], 0.0) + sign * qty
            order.update(status="filled", filled_qty=str(qty), filled_avg_price=str(price), filled_at=_now())

    def move(self, symbol: str, price: float) -> None:
        """The market moves to ``price``: resting limit orders it reaches fill completely at their limit."""
        with self._lock:
            self.prices[symbol] = price
            for order in self.orders:
                if order["symbol"] != symbol or order["type"] != "limit" or order["status"] in CLOSED:
                    continue
                limit = float(order["limit_price"])
                if (price <= limit) if order["side"] == "buy" else (price >= limit):
                    self.fill_resting(order["client_order_id"])

    def orders_with(self, cid: str) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["client_order_id"] == cid]

    def _err(self, status: int, code: int, message: str, headers: dict[str, str]) -> tuple[int, Any]:
        if self.echo_keys:
            sent = headers.get("apca-api-key-id", ""), headers.get("apca-api-secret-key", "")
            message = f"{message} (key {sent[0]}, secret {sent[1]})"
        return status, {"code": code, "message": message}

    # ---- orders --------------------------------------------------------------------------------------------
    def _place(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        cid = body.get("client_order_id") or uuid.uuid4().hex
        if self.orders_with(cid):
            return self._err(422, 40010001, "client_order_id must be unique", headers)
        symbol = body["symbol"]
        if symbol not in self.prices:
            return self._err(422, 40010001, f"asset {symbol} not found", headers)
        qty, side = float(body["qty"]), body["side"]
        price = self.prices[symbol]
        if side == "buy" and qty * price > self.cash:
            return self._err(403, 40310000, "insufficient buying power", headers)
        now = _now()
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "canceled_at": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "asset_class": "crypto" if "/" in symbol else "us_equity",
            "qty": body["qty"],
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "",
            "order_type": body["type"],
            "type": body["type"],
            "side": side,
            "time_in_force": body["time_in_force"],
            "limit_price": body.get("limit_price"),
            "status": "accepted",
            "extended_hours": False,
        }
        self.orders.append(order)
        limit = float(body["limit_price"]) if body.get("limit_price") is not None else None
        marketable = limit is not None and (price <= limit if side == "buy" else price >= limit)
        if body["type"] == "market" or marketable:  # a marketable limit order takes the market price at once
            filled = qty * (self.market_fill_ratio if body["type"] == "market" else 1.0)
            sign = 1 if side == "buy" else -1
            self.cash -= sign * filled * price
            self.positions[symbol] = self.positions.get(symbol, 0.0) + sign * filled
            order.update(filled_qty=str(filled), filled_avg_price=str(price), filled_at=now)
            order["status"] = "filled" if filled == qty else "partially_filled"
        return 200, order

    def _list(self, query: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        """``GET /v2/orders``: status open (default)|closed|all, limit (default 50, at most 500), after/until
        (exclusive/inclusive, on submitted_at), direction desc (default)|asc, symbols (comma list), side."""
        status = query.get("status", "open")
        limit = int(query.get("limit", 50))
        if status not in ("open", "closed", "all") or not 1 <= limit <= 500:
            return self._err(422, 40010001, f"invalid status {status!r} or limit {limit}", headers)
        rows = [o for o in self.orders if status == "all" or (o["status"] in CLOSED) == (status == "closed")]
        if "symbols" in query:
            wanted = {s.strip().replace("/", "") for s in query["symbols"].split(",")}
            rows = [o for o in rows if o["symbol"].replace("/", "") in wanted]
        if "side" in query:
            rows = [o for o in rows if o["side"] == query["side"]]
        stamp = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
        if "after" in query:
            rows = [o for o in rows if stamp(o["submitted_at"]) > stamp(query["after"])]
        if "until" in query:
            rows = [o for o in rows if stamp(o["submitted_at"]) <= stamp(query["until"])]
        rows.sort(key=lambda o: stamp(o["submitted_at"]), reverse=query.get("direction", "desc") == "desc")
        return 200, rows[:limit]

    def _position(self, symbol: str, qty: float) -> dict[str, Any]:
        price = self.prices[symbol]
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol.replace("/", ""),
            "exchange": "CRYPTO" if "/" in symbol else "NASDAQ",
            "asset_class": "crypto" if "/" in symbol else "us_equity",
            "avg_entry_price": str(price),
            "qty": str(abs(qty)),
            "side": "long" if qty > 0 else "short",
            "cost_basis": str(abs(qty) * price),
            "market_value": str(qty * price),
            "current_price": str(price),
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]) -> Any:
        if headers.get("apca-api-key-id") != self.key or headers.get("apca-api-secret-key") != self.secret:
            return self._err(401, 40110000, "request is not authorized", headers)
        with self._lock:
            if path == "/v2/orders" and method == "POST":
                return self._place(body, headers)
            if path == "/v2/orders:by_client_order_id":
                found = self.orders_with(query.get("client_order_id", ""))
                return (200, found[-1]) if found else self._err(404, 40410000, "order not found", headers)
            if path == "/v2/orders" and method == "GET":
                return self._list(query, headers)
            if path.startswith("/v2/orders/") and method == "DELETE":
                found = [o for o in self.orders if o["id"] == path.rsplit("/", 1)[1]]
                if not found:
                    return self._err(404, 40410000, "order not found", headers)
                if found[0]["status"] in ("filled", "canceled", "expired", "rejected"):
                    return self._err(422, 42210000, f"order is already in {found[0]['status']} state", headers)
                if self.cancel_pending:  # the cancel is only requested: the order may still fill
                    found[0].update(status="pending_cancel")
                    return 204, None
                found[0].update(status="canceled", canceled_at=_now())
                return 204, None
            if path == "/v2/positions":
                return 200, [self._position(s, q) for s, q in self.positions.items() if q]
            if path == "/v2/account":
                return 200, {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, self.key)),
                    "account_number": "PA000FAKE",
                    "status": "ACTIVE",
                    "currency": "USD",
                    "cash": str(self.cash),
                }
            return self._err(404, 40410000, f"unknown path {path}", headers)

    # ---- lifecycle -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AlpacaVenue:
        venue = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                venue.requests.append((self.command, parts.path))
                fault = venue._take_fault(self.command, parts.path)
                if fault in ("429", "504", "500", "503"):
                    return self._send(int(fault), {"code": int(fault) * 100000, "message": "try again"})
                if fault == "hang":  # a hung venue: nothing is handled, no answer for hang_s
                    time.sleep(venue.hang_s)
                    self.close_connection = True
                    return None
                status, payload = venue.handle(self.command, parts.path, dict(parse_qsl(parts.query)), body, headers)
                if fault in ("accept_then_504", "accept_then_500"):
                    return self._send(int(fault[-3:]), {"code": 50000000, "message": "gateway timeout"})
                if fault == "accept_then_hang":
                    time.sleep(venue.hang_s)
                    self.close_connection = True
                    return None
                return self._send(status, payload)

            do_GET = do_POST = do_DELETE = _any

            def _send(self, status: int, payload: Any) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
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
