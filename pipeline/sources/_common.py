"""Shared plumbing for network sources: base URLs, keys, timeouts, bounded retries, clean errors.

Settings come from the environment only:

- ``QUANTGATE_<SOURCE>_URL``: base URL of the service (defaults to the real one).
- ``QUANTGATE_HTTP_TIMEOUT``: per-request read timeout in seconds (default 30).
- ``QUANTGATE_RETRY_ATTEMPTS``: attempts per window for transient failures (default 5).
- ``QUANTGATE_RETRY_WAIT_MAX``: cap of the exponential backoff in seconds (default 30).
- ``QUANTGATE_RETRY_AFTER_MAX``: cap of an honoured ``Retry-After`` in seconds (default 120).

Transient failures (429, 5xx, timeouts, connection resets, truncated bodies) raise :class:`Transient`
inside a fetch and are retried by :func:`retrying` (tenacity); anything else is permanent and becomes
one :class:`~pipeline.errors.SourceError` line naming source, symbol and window, with every secret
removed from the text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

import pandas as pd
import tenacity

from pipeline.errors import SourceError, SourceUnavailable
from pipeline.store.canonical import OHLCV_COLUMNS
from pipeline.window import fmt

T = TypeVar("T")

DEFAULT_URLS: dict[str, str] = {
    "polygon": "https://api.polygon.io",
    "binance": "https://api.binance.com",
    "alpaca": "https://data.alpaca.markets",
    "coingecko": "https://api.coingecko.com/api/v3",
    "geckoterminal": "https://api.geckoterminal.com/api/v2",
}
URL_VARIABLES: dict[str, str] = {
    "polygon": "QUANTGATE_POLYGON_URL",
    "binance": "QUANTGATE_BINANCE_URL",
    "alpaca": "QUANTGATE_ALPACA_DATA_URL",
    "coingecko": "QUANTGATE_COINGECKO_URL",
    "geckoterminal": "QUANTGATE_GECKOTERMINAL_URL",
}
KEY_VARIABLES: tuple[str, ...] = (
    "POLYGON_API_KEY",
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "COINGECKO_API_KEY",
)


class Transient(Exception):  # a signal for the retry loop, never seen by users
    """A failure worth retrying; ``retry_after`` is the server's requested wait in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Permanent(Exception):  # turned into a SourceError naming source, symbol and window
    """A failure not worth retrying (401, unknown symbol, malformed payload)."""


def base_url(source: str) -> str:
    """Base URL of ``source`` from its environment variable, without a trailing slash."""
    return os.environ.get(URL_VARIABLES[source], DEFAULT_URLS[source]).rstrip("/")


def env_key(name: str) -> str | None:
    """The secret in environment variable ``name`` (None when unset or empty)."""
    value = os.environ.get(name, "").strip()
    return value or None


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def http_timeout() -> float:
    """Read timeout of one request in seconds."""
    return _float_env("QUANTGATE_HTTP_TIMEOUT", 30.0)


def retry_attempts() -> int:
    """Attempts per window before a transient failure becomes permanent."""
    return max(1, int(_float_env("QUANTGATE_RETRY_ATTEMPTS", 5)))


def retry_wait_max() -> float:
    """Upper bound of one exponential backoff wait in seconds."""
    return _float_env("QUANTGATE_RETRY_WAIT_MAX", 30.0)


def retry_after_max() -> float:
    """Upper bound of an honoured Retry-After in seconds."""
    return _float_env("QUANTGATE_RETRY_AFTER_MAX", 120.0)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form); None when absent or unparsable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = pd.Timestamp(value)
            when = when.tz_localize("UTC") if when.tzinfo is None else when
            return max(0.0, (when - pd.Timestamp.now(tz="UTC")).total_seconds())
        except (ValueError, TypeError):
            return None


def secrets() -> list[str]:
    """Every configured key, to be scrubbed from any text that may reach a user or a log."""
    return [v for v in (env_key(n) for n in KEY_VARIABLES) if v]


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` on one line, with every known secret replaced by ``***``."""
    line = " ".join(str(text).split())
    for secret in [*secrets(), *(e for e in extra if e)]:
        line = line.replace(secret, "***")
    return line[:300]


def window(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """A half-open window as ``[start, end)`` in compact ISO form."""
    return f"[{fmt(start)}, {fmt(end)})"


def fail(
    source: str,
    symbol: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    reason: str,
    error: type[SourceError] = SourceError,
) -> SourceError:
    """A one-line :class:`SourceError` naming source, symbol and window; secrets scrubbed."""
    return error(redact(f"{source}: {symbol} {window(start, end)}: {reason}"))


def _wait(state: tenacity.RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, Transient) and exc.retry_after is not None:
        return min(exc.retry_after, retry_after_max())
    backoff = tenacity.wait_exponential_jitter(initial=0.5, max=retry_wait_max())
    return min(backoff(state), retry_wait_max())


def retrying(
    call: Callable[[], T],
    *,
    source: str,
    symbol: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> T:
    """Run ``call`` and retry it on :class:`Transient` with bounded backoff (honouring Retry-After).

    When the attempts are spent the last transient reason becomes a :class:`SourceError`.
    """
    attempts = retry_attempts()
    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Transient),
        wait=_wait,
        stop=tenacity.stop_after_attempt(attempts),
        reraise=True,
    )
    try:
        return retryer(call)
    except Transient as exc:
        reason = f"gave up after {attempts} attempts: {exc.reason}"
        raise fail(source, symbol, start, end, reason, SourceUnavailable) from None
    except Permanent as exc:
        raise fail(source, symbol, start, end, str(exc)) from None


def http_get_json(url: str, *, params: dict | None = None, headers: dict | None = None) -> object:
    """GET ``url`` with httpx and decode JSON, classifying failures as :class:`Transient` or :class:`Permanent`."""
    import httpx

    try:
        response = httpx.get(url, params=params, headers=headers, timeout=http_timeout())
    except httpx.TimeoutException:
        raise Transient("timeout") from None
    except httpx.TransportError as exc:  # connection refused/reset, truncated body
        raise Transient(exc.__class__.__name__) from None
    status = response.status_code
    if status == 429 or status >= 500:
        raise Transient(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
    if status == 404:
        raise Permanent(f"unknown symbol (HTTP 404: {_error_text(response)})")
    if status != 200:
        raise Permanent(f"HTTP {status}: {_error_text(response)}")
    try:
        return response.json()
    except ValueError:
        raise Permanent("malformed payload (response is not JSON)") from None


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
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


def frame_from_rows(
    rows: list[tuple[pd.Timestamp | int | float, float, float, float, float, float | None]],
    *,
    unit: str | None = None,
) -> pd.DataFrame:
    """A canonical frame from ``(ts, open, high, low, close, volume)`` tuples.

    ``unit`` ("ms" or "s") marks integer epoch timestamps; otherwise ts are parsed as datetimes.
    Raises ValueError/TypeError on values that are not numbers (the caller turns that into a
    malformed-payload error).
    """
    if not rows:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in OHLCV_COLUMNS},
            index=pd.DatetimeIndex([], tz="UTC", name="ts"),
        )
    stamps = [r[0] for r in rows]
    index = pd.to_datetime(stamps, unit=unit, utc=True) if unit else pd.to_datetime(stamps, utc=True)
    data = {
        column: [float("nan") if r[i + 1] is None else float(r[i + 1]) for r in rows]
        for i, column in enumerate(OHLCV_COLUMNS)
    }
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(index, name="ts"))
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame.astype("float64")


def clip(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Rows with ``start <= ts < end`` (the half-open window of :mod:`pipeline.window`)."""
    return frame.loc[(frame.index >= start) & (frame.index < end)]
