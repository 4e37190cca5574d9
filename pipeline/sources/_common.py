"""Generic plumbing for network sources: keys, deadlines, caps, paging, bounded retries, clean errors.

The deadline-bounded HTTP GET itself is in :mod:`pipeline.sources._http`.

Nothing here names a source: each source module declares its base URL, URL variable and key variables
(:class:`~pipeline.sources.base.BarSource`). Settings come from the environment only (seconds unless noted):

- ``QUANTGATE_HTTP_TIMEOUT`` (30): connect and per-read socket timeout.
- ``QUANTGATE_REQUEST_DEADLINE`` (60): wall-clock bound of one HTTP request, from connect to the last
  body byte, so a server trickling one byte every few seconds cannot hold a request open.
- ``QUANTGATE_FETCH_DEADLINE`` (600): wall-clock bound of one ``fetch`` (every page and retry of one
  window); when it passes the fetch ends with a :class:`~pipeline.errors.SourceError` (not retried).
- ``QUANTGATE_INGEST_DEADLINE`` (14400): wall-clock bound of one ``ingest``/``fill_gaps`` run; chunks
  finished before it stay stored, so a rerun resumes.
- ``QUANTGATE_MAX_PAGES`` (1000): pages one fetch may request; a server that ignores the cursor or keeps
  sending ``next`` links ends in a ``SourceError`` instead of paging forever.
- ``QUANTGATE_MAX_BODY_MB`` (64): largest response body read.
- ``QUANTGATE_RETRY_ATTEMPTS`` (5): attempts per request for transient failures.
- ``QUANTGATE_RETRY_WAIT_MAX`` (30): cap of the exponential backoff.
- ``QUANTGATE_RETRY_AFTER_MAX`` (30): the longest ``Retry-After`` honoured. A server asking for more
  ends the fetch at once with a ``SourceError`` naming the wait (not retried by the ingest task either),
  so waits per fetch are bounded by ``attempts x cap`` and by the fetch deadline.

Transient failures (429/418, 5xx, timeouts, connection resets, truncated bodies) raise :class:`Transient`
inside a fetch and are retried by :func:`retrying`; anything else is permanent and becomes one
:class:`~pipeline.errors.SourceError` line naming source, symbol and window, with every secret removed
from the text. Malformed bodies of any shape (empty, not JSON, an object instead of a list, wrong row
lengths, non-numeric values, duplicate timestamps) are permanent.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pandas as pd

from pipeline.bars import OHLCV_COLUMNS
from pipeline.errors import SourceError, SourceUnavailable, first_line
from pipeline.sources.base import key_variables
from pipeline.window import fmt

T = TypeVar("T")


class Transient(Exception):  # a signal for the retry loop, never seen by users
    """A failure worth retrying; ``retry_after`` is the server's requested wait in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Permanent(Exception):  # turned into a SourceError naming source, symbol and window
    """A failure not worth retrying (401, unknown symbol, malformed payload)."""


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
    """Connect and per-read socket timeout of one request in seconds."""
    return _float_env("QUANTGATE_HTTP_TIMEOUT", 30.0)


def request_deadline() -> float:
    """Wall-clock bound of one HTTP request (connect to last body byte) in seconds."""
    return _float_env("QUANTGATE_REQUEST_DEADLINE", 60.0)


def fetch_deadline() -> float:
    """Wall-clock bound of one fetch (every page and retry of one window) in seconds."""
    return _float_env("QUANTGATE_FETCH_DEADLINE", 600.0)


def ingest_deadline() -> float:
    """Wall-clock bound of one ingestion run in seconds."""
    return _float_env("QUANTGATE_INGEST_DEADLINE", 4 * 3600.0)


def max_pages() -> int:
    """Pages one fetch may request."""
    return max(1, int(_float_env("QUANTGATE_MAX_PAGES", 1000)))


def max_body_bytes() -> int:
    """Largest response body read, in bytes."""
    return int(_float_env("QUANTGATE_MAX_BODY_MB", 64) * 1024 * 1024)


def retry_attempts() -> int:
    """Attempts per request before a transient failure becomes permanent."""
    return max(1, int(_float_env("QUANTGATE_RETRY_ATTEMPTS", 5)))


def retry_wait_max() -> float:
    """Upper bound of one exponential backoff wait in seconds."""
    return _float_env("QUANTGATE_RETRY_WAIT_MAX", 30.0)


def retry_after_max() -> float:
    """Upper bound of an honoured Retry-After in seconds."""
    return _float_env("QUANTGATE_RETRY_AFTER_MAX", 30.0)


# -- deadlines ----------------------------------------------------------------------------------------
_DEADLINE: contextvars.ContextVar[tuple[float, str] | None] = contextvars.ContextVar("quantgate_deadline", default=None)


class DeadlinePassed(Exception):  # turned into a SourceError naming the deadline
    """The current deadline (fetch or ingestion) has passed."""


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Bound everything inside to ``seconds`` from now (nested deadlines keep the earliest).

    ``what`` names the deadline in messages, e.g. ``"600 s fetch deadline (QUANTGATE_FETCH_DEADLINE)"``.
    """
    current = _DEADLINE.get()
    mine = (time.monotonic() + seconds, what)
    token = _DEADLINE.set(mine if current is None or mine[0] < current[0] else current)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float:
    """Seconds left before the innermost deadline (infinity when none is set)."""
    current = _DEADLINE.get()
    return math.inf if current is None else current[0] - time.monotonic()


def check_deadline() -> None:
    """Raise :class:`DeadlinePassed` when the current deadline has passed."""
    current = _DEADLINE.get()
    if current is not None and time.monotonic() >= current[0]:
        raise DeadlinePassed(f"stopped at the {current[1]}")


def fetch_scope() -> contextlib.AbstractContextManager[None]:
    """The deadline of one fetch (``QUANTGATE_FETCH_DEADLINE``)."""
    seconds = fetch_deadline()
    return deadline(seconds, f"{seconds:g} s fetch deadline (QUANTGATE_FETCH_DEADLINE)")


def ingest_scope() -> contextlib.AbstractContextManager[None]:
    """The deadline of one ingestion run (``QUANTGATE_INGEST_DEADLINE``)."""
    seconds = ingest_deadline()
    return deadline(seconds, f"{seconds:g} s ingestion deadline (QUANTGATE_INGEST_DEADLINE)")


def request_budget() -> float:
    """Seconds the next request may take: the request deadline, or less when a wider deadline is closer."""
    return max(0.0, min(request_deadline(), remaining()))


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
    """Every configured key of every source (its ``key_variables``), scrubbed from any text that may reach a user."""
    return [v for v in (env_key(n) for n in key_variables()) if v]


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


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped by ``QUANTGATE_RETRY_WAIT_MAX``."""
    return min(retry_wait_max(), 0.5 * 2 ** (attempt - 1) + random.uniform(0.0, 0.5))


def retrying(
    call: Callable[[], T],
    *,
    source: str,
    symbol: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    in_thread: bool = False,
) -> T:
    """Run ``call`` and retry it on :class:`Transient` with bounded backoff (honouring a capped Retry-After).

    Everything runs under the fetch deadline (and any wider deadline already set). ``in_thread`` runs
    each attempt in a worker thread that the caller stops waiting for at the deadline: for client
    libraries whose requests this module cannot bound itself. When the attempts are spent the last
    transient reason becomes a :class:`SourceUnavailable`; a passed deadline, a Retry-After above the cap
    or a :class:`Permanent` failure becomes a :class:`SourceError`.
    """
    attempts = retry_attempts()
    last = "no attempt"
    with fetch_scope():
        try:
            for attempt in range(1, attempts + 1):
                check_deadline()
                try:
                    return _bounded(call) if in_thread else call()
                except Transient as exc:
                    last = exc.reason
                    if exc.retry_after is not None and exc.retry_after > retry_after_max():
                        reason = (
                            f"{exc.reason}: the server asks to wait {exc.retry_after:g} s, more than the "
                            f"{retry_after_max():g} s cap (QUANTGATE_RETRY_AFTER_MAX)"
                        )
                        raise fail(source, symbol, start, end, reason) from None
                    if attempt == attempts:
                        break
                    wait = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
                    if wait >= remaining():
                        check_deadline()
                        raise DeadlinePassed(f"{exc.reason}; the next try would pass the deadline") from None
                    time.sleep(wait)
        except DeadlinePassed as exc:
            raise fail(source, symbol, start, end, f"{exc} (last failure: {last})") from None
        except Permanent as exc:
            raise fail(source, symbol, start, end, str(exc)) from None
    reason = f"gave up after {attempts} attempts: {last}"
    raise fail(source, symbol, start, end, reason, SourceUnavailable) from None


def _bounded(call: Callable[[], T]) -> T:
    """``call()`` in a daemon thread, waited for until the current request budget runs out."""
    budget = request_budget()
    if budget <= 0:
        check_deadline()
        raise Transient("no time left for a request")
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome["value"] = context.run(call)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="quantgate-source-request", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise Transient(f"no complete answer within {budget:g} s (QUANTGATE_REQUEST_DEADLINE)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class PageCounter:
    """Counts the requests of one fetch and stops it at ``QUANTGATE_MAX_PAGES`` or at the deadline.

    For client libraries that page by themselves (next_url, page tokens): call :meth:`tick` before each
    request they make.
    """

    def __init__(self) -> None:
        self.limit = max_pages()
        self.count = 0

    def tick(self) -> None:
        """Count one request; raise :class:`Permanent` past the cap, :class:`DeadlinePassed` past the deadline."""
        check_deadline()
        self.count += 1
        if self.count > self.limit:
            raise Permanent(
                f"still paging after {self.limit} requests (QUANTGATE_MAX_PAGES): the server keeps sending more pages"
            )


def _number(value: object, row: int, column: str) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Permanent(f"malformed payload (row {row}: {column} is {type(value).__name__}, not a number)")
    try:
        return float(value)
    except ValueError:
        raise Permanent(f"malformed payload (row {row}: {column} {str(value)[:20]!r} is not a number)") from None


def frame_from_rows(
    rows: Iterable[Any],
    *,
    unit: str | None = None,
) -> pd.DataFrame:
    """A canonical frame from ``(ts, open, high, low, close, volume)`` rows (longer rows: the rest is ignored).

    ``unit`` ("ms" or "s") marks integer epoch timestamps; otherwise ts are parsed as datetimes.

    Raises
    ------
    Permanent
        One line naming the row: a row that is not a list of at least six fields, a timestamp or value
        that is not a number, or two rows with the same timestamp (never resolved silently).
    """
    rows = list(rows)
    if not rows:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in OHLCV_COLUMNS},
            index=pd.DatetimeIndex([], tz="UTC", name="ts"),
        )
    for n, row in enumerate(rows):
        if not isinstance(row, list | tuple):
            raise Permanent(f"malformed payload (row {n} is {type(row).__name__}, expected a list of fields)")
        if len(row) < 1 + len(OHLCV_COLUMNS):
            raise Permanent(f"malformed payload (row {n} has {len(row)} fields, expected at least 6)")
    stamps = [r[0] for r in rows]
    for n, stamp in enumerate(stamps):
        if unit and (isinstance(stamp, bool) or not isinstance(stamp, int | float)):
            raise Permanent(f"malformed payload (row {n}: time {str(stamp)[:24]!r} is not an epoch number)")
    try:
        index = pd.to_datetime(stamps, unit=unit, utc=True) if unit else pd.to_datetime(stamps, utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Permanent(f"malformed payload (bar times: {first_line(exc)[:80]})") from None
    data = {
        column: [_number(r[i + 1], n, column) for n, r in enumerate(rows)] for i, column in enumerate(OHLCV_COLUMNS)
    }
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(index, name="ts"))
    duplicated = frame.index.duplicated()
    if duplicated.any():
        first = frame.index[duplicated][0]
        raise Permanent(f"duplicate bar at ts={first.isoformat()} (the source sent that bar time twice)")
    return frame.sort_index().astype("float64")


def clip(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Rows with ``start <= ts < end`` (the half-open window of :mod:`pipeline.window`)."""
    return frame.loc[(frame.index >= start) & (frame.index < end)]
