"""A threaded stdlib HTTP server on 127.0.0.1 with scripted failures, shared by every fake service.

A service subclasses :class:`FakeService` and implements :meth:`FakeService.handle` returning
``(status, headers, body)``. Tests script failures with :meth:`FakeService.fail`: the next matching
request (optionally after skipping some) gets a 429, a 5xx, a timeout, a truncated body, garbage,
a dropped connection, or a 401; or a misbehaving answer: ``trickle`` (the real body, one byte every
``trickle_interval`` seconds), ``trickle_headers`` (the status line and headers that way), ``empty``
(200 with no body), ``object`` (a JSON object instead of a list), ``short_rows`` (rows of two fields),
``strings`` (a row whose prices are words) or ``scalar`` (a bare JSON string).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], bytes]
#: How often a fake's serving loop checks for shutdown; ``shutdown()`` waits up to this long (stdlib default 0.5 s).
POLL_INTERVAL_S = 0.02


@dataclass
class Failure:
    """One scripted failure: ``kind`` applied to ``times`` matching requests after skipping ``after``."""

    kind: str
    match: str | None = None
    after: int = 0
    times: int = 1
    retry_after: str | None = "1"


@dataclass(frozen=True)
class Request:
    """A request the fake saw."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def json_body(obj: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(obj, separators=(",", ":")).encode()


class FakeService:
    """Base of every fake: request log, failure script, lifecycle."""

    #: Seconds a "timeout" failure sleeps before answering (tests set the client timeout lower).
    timeout_sleep: float = 2.0
    #: Seconds between two bytes of a "trickle" answer.
    trickle_interval: float = 5.0

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------
    def fail(
        self, kind: str, *, match: str | None = None, after: int = 0, times: int = 1, retry_after: str | None = "1"
    ) -> None:
        """Script ``kind`` for ``times`` requests whose path contains ``match``, after ``after`` of them."""
        with self._lock:
            self._failures.append(Failure(kind, match, after, times, retry_after))

    def clear_failures(self) -> None:
        """Forget every pending failure."""
        with self._lock:
            self._failures.clear()

    def _next_failure(self, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.match is not None and failure.match not in path:
                    continue
                if failure.after > 0:
                    failure.after -= 1
                    return None
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def data_requests(self, match: str) -> list[Request]:
        """Requests whose path contains ``match``."""
        return [r for r in self.requests if match in r.path]

    # -- to implement -----------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one request."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> bytes:
        """The service's error payload."""
        return json_body({"error": message})

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:PORT``)."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        """Serve on an ephemeral port in a daemon thread."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # silence stderr
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request = Request("GET", parts.path, query, {k.lower(): v for k, v in self.headers.items()})
                service.requests.append(request)
                failure = service._next_failure(parts.path)
                if failure is not None and self._fail(failure, request):
                    return
                status, headers, body = service.handle(request)
                self._send(status, headers, body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _fail(self, failure: Failure, request: Request) -> bool:
                kind = failure.kind
                if kind in ("429", "418"):
                    headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                    self._send(int(kind), headers, service.error_body(int(kind), "Too many requests"))
                elif kind in ("500", "502", "503", "504"):
                    self._send(int(kind), {}, service.error_body(int(kind), "Internal error"))
                elif kind == "401":
                    self._send(401, {}, service.error_body(401, "unauthorized"))
                elif kind == "timeout":
                    time.sleep(service.timeout_sleep)
                    self.close_connection = True
                    return True
                elif kind == "reset":
                    self.close_connection = True
                    return True
                elif kind == "truncate":
                    status, headers, body = service.handle(request)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: max(1, len(body) // 2)])
                    self.wfile.flush()
                    self.close_connection = True
                elif kind in ("trickle", "trickle_headers"):
                    status, headers, body = service.handle(request)
                    head = (
                        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    slow = head + body if kind == "trickle_headers" else body
                    try:
                        if kind == "trickle":
                            self.wfile.write(head)
                        for i in range(len(slow)):
                            self.wfile.write(slow[i : i + 1])
                            self.wfile.flush()
                            time.sleep(service.trickle_interval)
                    except OSError:  # the client gave up, as it should
                        pass
                    self.close_connection = True
                elif kind == "empty":
                    self._send(200, {}, b"")
                elif kind == "object":
                    self._send(200, {}, json_body({"unexpected": "object"}))
                elif kind == "short_rows":
                    self._send(200, {}, json_body([[1514764800000, "1.0"]]))
                elif kind == "strings":
                    self._send(200, {}, json_body([[1514764800000, "abc", "2", "1", "1.5", "10"]]))
                elif kind == "scalar":
                    self._send(200, {}, json_body("maintenance"))
                elif kind == "garbage":
                    self._send(200, {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>")
                else:
                    raise ValueError(f"unknown failure kind {kind}")
                return True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_S,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
