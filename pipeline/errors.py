"""One root error for everything quantgate raises on purpose.

Each subclass names a stage. Messages are one line and name the file, field, row or object involved,
so the CLI can print them without a traceback. Wrap third-party errors with ``raise ... from exc``.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Root of every error quantgate raises deliberately."""


def first_line(exc: BaseException, lines: int = 1) -> str:
    """The first non-empty line of ``exc``'s message, or its class name when the message is empty.

    Used to wrap third-party errors into one-line :class:`PlatformError` messages. ``lines`` > 1 joins that
    many leading lines with spaces, for libraries whose first line alone says nothing (pydantic's
    "1 validation error for ...").
    """
    text = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(text[: max(lines, 1)]) if text else exc.__class__.__name__


class ConfigError(PlatformError):
    """An experiment file is missing, unreadable or invalid."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


class StoreError(PlatformError):
    """The bar store could not read or write."""


class StoreUnavailable(StoreError):
    """The database could not be reached or dropped the connection (an outage, not bad data).

    Like :class:`SourceUnavailable` this may succeed later, so orchestration may retry it.
    """


class SourceError(PlatformError):
    """A data source failed permanently (bad key, unknown symbol, malformed payload)."""


class SourceUnavailable(SourceError):
    """A source kept failing transiently (rate limits, 5xx, timeouts) until its retries ran out.

    Unlike other source errors this one may succeed later, so orchestration may retry it.
    """


class DataQualityError(PlatformError):
    """Bars failed the data-quality suite; nothing downstream may use them."""


class FeatureError(PlatformError):
    """A feature group is unknown, broken, or returned something malformed."""


class LabelError(PlatformError):
    """Labels or splits cannot be built from the data given."""


class TrainingError(PlatformError):
    """The model could not be trained."""


class TuningError(PlatformError):
    """An Optuna study could not be set up, run or read back."""


class BacktestError(PlatformError):
    """The backtest inputs are inconsistent (shapes, classes, missing prices)."""


class TrackingError(PlatformError):
    """MLflow tracking or the model registry failed or refused an operation."""


class PromotionRefused(TrackingError):
    """A model version may not be promoted (for instance its gate failed and --force was not given)."""


class ExecutionError(PlatformError):
    """Trading cannot proceed safely: a bad trading file, a ledger/broker mismatch, a refused model or mode."""


class OrderOutcomeUnknown(ExecutionError):
    """An order was sent but the venue's answer never came (timeout, 5xx, -1007) and a look-up did not settle it.

    The order stays in flight: the next reconcile looks it up by client order id; it is never resent blind.
    """
