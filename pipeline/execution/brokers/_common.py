"""Plumbing shared by the venue adapters: keys from the environment, a wall-clock deadline per call, redaction.

Settings (environment only):

- ``QUANTGATE_BROKER_DEADLINE`` (15): wall-clock bound in seconds of one venue call, retries of the
  official client included. A call still running then is abandoned (its daemon thread ends with the
  client's own socket timeout); for a submit that means the outcome is UNKNOWN.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.errors import ExecutionError

T = TypeVar("T")

DEADLINE_ENV = "QUANTGATE_BROKER_DEADLINE"


class Deadline(Exception):
    """A venue call did not finish within its deadline."""


def broker_deadline(default: float = 15.0) -> float:
    """Seconds one venue call may take (``QUANTGATE_BROKER_DEADLINE``)."""
    try:
        return float(os.environ.get(DEADLINE_ENV, default))
    except ValueError:
        return default


def call_with_deadline(fn: Callable[[], T], deadline: float) -> T:
    """Run ``fn`` in a daemon thread and return its result, or raise :class:`Deadline` after ``deadline`` s.

    Exceptions of ``fn`` are re-raised as they are. The official clients set no overall bound (alpaca-py
    sets no socket timeout at all and sleeps between its own retries), hence the thread.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="venue-call", daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        raise Deadline(f"no answer within {deadline:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@dataclass(frozen=True)
class VenueKeys:
    """An API key pair; ``repr`` never shows them."""

    key: str = field(repr=False)
    secret: str = field(repr=False)

    @classmethod
    def from_env(cls, venue: str, key_var: str, secret_var: str) -> VenueKeys:
        """Read the pair from the environment; one line naming the variables when either is missing."""
        key, secret = os.environ.get(key_var, "").strip(), os.environ.get(secret_var, "").strip()
        if not key or not secret:
            raise ExecutionError(f"{venue} broker: set {key_var} and {secret_var} in the environment")
        return cls(key, secret)

    def redact(self, text: object) -> str:
        """``text`` on one line (at most 300 characters) with both keys replaced by ``***``."""
        line = " ".join(str(text).split())
        for secret in (self.key, self.secret):
            line = line.replace(secret, "***")
        return line[:300]


#: Reads one Prefect Secret block by name. pipeline/ may not import Prefect, so the task layer registers it
#: (``tasks/secrets.py``, imported by the CLI and the flows).
_block_reader: Callable[[str], str] | None = None


def set_block_reader(reader: Callable[[str], str] | None) -> None:
    """Register how a Secret block's value is read (``None``: blocks unavailable)."""
    global _block_reader
    _block_reader = reader


def keys_for(venue: str, credentials: object | None, key_var: str, secret_var: str) -> VenueKeys:
    """The key pair a trading file's ``credentials`` name: environment variables or Prefect Secret blocks.

    Without ``credentials`` the adapter's own variables (``key_var``/``secret_var``) are read. Errors
    name the variable or block, never a value.
    """
    if credentials is None or getattr(credentials, "key_env", None):
        key_var = getattr(credentials, "key_env", None) or key_var
        secret_var = getattr(credentials, "secret_env", None) or secret_var
        return VenueKeys.from_env(venue, key_var, secret_var)
    names = (credentials.key_block, credentials.secret_block)  # type: ignore[attr-defined]
    if _block_reader is None:
        raise ExecutionError(
            f"{venue} broker: credentials name Prefect Secret blocks {names[0]!r}/{names[1]!r} but no block "
            "reader is registered (run through the quantgate command or a flow)"
        )
    values = []
    for name in names:
        try:
            value = str(_block_reader(name)).strip()
        except Exception as exc:  # noqa: BLE001 - one line naming the block; the message never holds the value
            raise ExecutionError(
                f"{venue} broker: cannot read Prefect Secret block {name!r}: {exc.__class__.__name__}"
            ) from None
        if not value:
            raise ExecutionError(f"{venue} broker: Prefect Secret block {name!r} is empty")
        values.append(value)
    return VenueKeys(values[0], values[1])
