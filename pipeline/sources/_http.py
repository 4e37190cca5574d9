"""Deadline-bounded HTTP for network sources: one GET whose connect, headers and body all finish in time.

Failures are classified for :func:`pipeline.sources._common.retrying`: :class:`Transient` (429/418, 5xx,
timeouts, resets, truncated bodies) or :class:`Permanent` (404, other errors, bodies that are not JSON or too big).
"""

from __future__ import annotations

import json
import time
from typing import Any

from pipeline.sources._common import (
    Permanent,
    Transient,
    check_deadline,
    http_timeout,
    max_body_bytes,
    parse_retry_after,
    redact,
    request_budget,
)


def read_body(response: Any, until: float, budget: float) -> bytes:
    """The whole body of a streamed urllib3 response, read segment by segment up to ``until``.

    ``read1`` returns what one socket read brings, so a server trickling bytes is cut off at the
    deadline instead of holding the read open; the body is also capped at ``QUANTGATE_MAX_BODY_MB``.
    """
    body = bytearray()
    limit = max_body_bytes()
    while True:
        if time.monotonic() > until:
            response.close()
            raise Transient(f"no complete answer within {budget:g} s (QUANTGATE_REQUEST_DEADLINE)")
        chunk = response.read1(64 * 1024, decode_content=True)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            response.close()
            raise Permanent(f"response body larger than {limit >> 20} MB (QUANTGATE_MAX_BODY_MB)")


class _DeadlineStream:
    """A network stream whose every read and write is bounded by an absolute deadline."""

    def __init__(self, inner: Any, until: float) -> None:
        self._inner = inner
        self._until = until

    def _timeout(self, timeout: float | None) -> float:
        import httpcore

        left = self._until - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("request deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, self._timeout(timeout)), self._until)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _deadline_backend(until: float) -> Any:
    """An httpcore network backend whose connections stop at ``until`` (monotonic clock)."""
    import httpcore

    class Backend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.SyncBackend()

        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            stream = _DeadlineStream(None, until)
            inner = self._inner.connect_tcp(host, port, stream._timeout(timeout), local_address, socket_options)
            return _DeadlineStream(inner, until)

        def connect_unix_socket(self, path, timeout=None, socket_options=None):
            bound = _DeadlineStream(None, until)._timeout(timeout)
            return _DeadlineStream(self._inner.connect_unix_socket(path, bound, socket_options), until)

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    return Backend()


def http_get(url: str, *, params: dict | None = None, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` within the request budget: ``(status, headers, body)``; failures as Transient/Permanent.

    The whole exchange (connect, headers, body) must finish within :func:`request_budget` seconds, and
    the body may not exceed ``QUANTGATE_MAX_BODY_MB``.
    """
    import httpcore
    import httpx

    budget = request_budget()
    if budget <= 0:
        check_deadline()
        raise Transient("no time left for a request")
    until = time.monotonic() + budget
    timeout = http_timeout()
    extensions = {"timeout": {"connect": min(10.0, timeout), "read": timeout, "write": timeout, "pool": timeout}}
    target = httpx.URL(url, params=params)
    request_headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    limit = max_body_bytes()
    body = bytearray()
    try:
        with (
            httpcore.ConnectionPool(network_backend=_deadline_backend(until)) as pool,
            pool.stream("GET", str(target), headers=request_headers, extensions=extensions) as response,
        ):
            for chunk in response.iter_stream():
                body += chunk
                if len(body) > limit:
                    raise Permanent(f"response body larger than {limit >> 20} MB (QUANTGATE_MAX_BODY_MB)")
            status = response.status
            response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
    except httpcore.TimeoutException:
        if time.monotonic() >= until - 0.05:
            raise Transient(f"no complete answer within {budget:g} s (QUANTGATE_REQUEST_DEADLINE)") from None
        raise Transient("timeout") from None
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:  # refused/reset, truncated body
        raise Transient(exc.__class__.__name__) from None
    except httpcore.UnsupportedProtocol as exc:
        raise Permanent(f"bad URL {redact(str(target))}: {exc}") from None
    return status, response_headers, bytes(body)


def raise_for_transient(status: int, headers: dict[str, str]) -> None:
    """Raise :class:`Transient` for a status worth retrying (418, 429, 5xx), with the server's Retry-After."""
    if status in (418, 429) or status >= 500:
        raise Transient(f"HTTP {status}", parse_retry_after(headers.get("retry-after")))


def decode_json(body: bytes) -> object:
    """The JSON document in ``body``; an empty or non-JSON body is a :class:`Permanent` malformed payload."""
    if not body.strip():
        raise Permanent("malformed payload (empty body)")
    try:
        return json.loads(body)
    except ValueError:
        raise Permanent(f"malformed payload (response is not JSON: {_snippet(body)})") from None


def http_get_json(url: str, *, params: dict | None = None, headers: dict | None = None) -> object:
    """GET ``url`` (see :func:`http_get`) and decode JSON, classifying failures as Transient or Permanent."""
    status, response_headers, body = http_get(url, params=params, headers=headers)
    raise_for_transient(status, response_headers)
    if status == 404:
        raise Permanent(f"unknown symbol (HTTP 404: {_error_text(body)})")
    if status != 200:
        raise Permanent(f"HTTP {status}: {_error_text(body)}")
    return decode_json(body)


def _snippet(body: bytes) -> str:
    return " ".join(body[:60].decode("utf-8", "replace").split())


def _error_text(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return _snippet(raw)
    if isinstance(body, dict):
        for key in ("error", "message", "msg", "status"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:120]
            if isinstance(value, dict) and isinstance(value.get("error_message"), str):
                return value["error_message"][:120]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("title", ""))[:120]
    return str(body)[:80]
