"""Helpers shared by the CLI modules: one-line errors, consoles, quiet orchestration logs."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
import typer
from rich.console import Console

from pipeline.errors import PlatformError, first_line

# Piped or captured output is not squeezed to 80 columns: tables keep whole names and run ids.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)

F = TypeVar("F", bound=Callable[..., Any])
INTERRUPTED = "interrupted"
_interrupts = {"count": 0}


def catch_interrupts() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt, as Python's default handler does, and is also counted.

    CPython drops a KeyboardInterrupt that lands in a weakref callback or ``__del__`` (it prints "Exception
    ignored in ..."), and so do some libraries' ``except BaseException`` blocks; the command would then run on
    as if nothing was pressed. Counted, it still ends the command as interrupted (:func:`one_line_errors`),
    once the command has finished the step it was in, and without the "Exception ignored" traceback.
    """
    _interrupts["count"] = 0
    signal.signal(signal.SIGINT, _on_interrupt)
    sys.unraisablehook = _quiet_about_interrupts


def _quiet_about_interrupts(unraisable: Any) -> None:
    """A KeyboardInterrupt that CPython dropped is raised again, once out of the callback that dropped it."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):  # not from here: it would be dropped again
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
    else:
        sys.__unraisablehook__(unraisable)


def _on_interrupt(_signum: int, _frame: Any) -> None:
    _interrupts["count"] += 1
    raise KeyboardInterrupt


def reset_consoles() -> None:
    """Re-detect terminal, width and colours of both consoles (a warm runner's child got new stdio)."""
    width = None if sys.stdout.isatty() else 200
    console.__init__(soft_wrap=True, width=width)  # type: ignore[misc]
    err_console.__init__(stderr=True, soft_wrap=True, width=width)  # type: ignore[misc]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clean error line to stderr and return the Exit to raise."""
    err_console.print(f"error: {message}", highlight=False, soft_wrap=True, markup=False)
    return typer.Exit(code)


def _log_traceback(exc: BaseException) -> Path | None:
    """Append ``exc``'s traceback to ``$QUANTGATE_HOME/logs/errors.log``; None when that cannot be written."""
    import datetime as dt
    import traceback

    from pipeline.settings import home

    try:
        path = home() / "logs" / "errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {dt.datetime.now(dt.UTC).isoformat()} quantgate {' '.join(sys.argv[1:])}\n")
            handle.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def _check_common_arguments(kwargs: dict[str, Any]) -> None:
    """Refuse an unknown ``timeframe`` or ``asset_class`` argument of any command with one line."""
    from pipeline.errors import ConfigError
    from pipeline.timeframes import BAR_LENGTH

    timeframe = kwargs.get("timeframe")
    if isinstance(timeframe, str) and timeframe not in BAR_LENGTH:
        raise ConfigError(f"timeframe: unknown timeframe {timeframe!r}; expected one of {', '.join(BAR_LENGTH)}")
    asset_class = kwargs.get("asset_class")
    if isinstance(asset_class, str) and asset_class not in ("equity", "crypto"):
        raise ConfigError(f"--asset-class: unknown asset class {asset_class!r}; expected equity or crypto")


def one_line_errors(func: F) -> F:
    """Turn any error into one line on stderr and exit status 1 (no traceback).

    A :class:`PlatformError` prints its message. Anything else is unexpected: it prints its class and first
    line, and its traceback goes to ``$QUANTGATE_HOME/logs/errors.log``; with ``--verbose`` (a command's
    ``verbose`` parameter) or ``QUANTGATE_DEBUG=1`` it is raised with its traceback instead.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _check_common_arguments(kwargs)
            result = func(*args, **kwargs)
        except PlatformError as exc:
            raise fail(" ".join(str(exc).split()) or exc.__class__.__name__) from None
        except KeyboardInterrupt:
            raise fail(INTERRUPTED, 130) from None
        except (
            typer.Exit,
            typer.Abort,
            click.exceptions.Exit,
            click.exceptions.ClickException,
            click.exceptions.Abort,
        ):
            raise
        except Exception as exc:
            if kwargs.get("verbose") or os.environ.get("QUANTGATE_DEBUG", "").strip() not in ("", "0"):
                raise
            log = _log_traceback(exc)
            where = f"traceback in {log}" if log is not None else "rerun with QUANTGATE_DEBUG=1 for the traceback"
            message = " ".join(first_line(exc).split())
            if _interrupts["count"]:  # a library turned the KeyboardInterrupt into its own error
                raise fail(f"{INTERRUPTED} (then: {exc.__class__.__name__}: {message}; {where})", 130) from None
            raise fail(f"unexpected {exc.__class__.__name__}: {message} ({where})") from None
        if _interrupts["count"]:  # Python swallowed the KeyboardInterrupt; what ran has completed
            raise fail(f"{INTERRUPTED} (the command finished the work it was doing when Ctrl-C came)", 130)
        return result

    return wrapper  # type: ignore[return-value]


def quiet_orchestration(verbose: bool) -> None:
    """Keep Prefect/MLflow chatter off the terminal unless --verbose (set before they are imported).

    Prefect's console handler is raised to CRITICAL, so its ERROR tracebacks of failed tasks and flows stay
    out of the terminal; they still reach the Prefect API's logs. The CLI then prints the one error line.
    """
    # Prefect's temporary server gets 20 s to start by default; a busy 2-core machine needs more.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from quantgate.cli.server import use_background_server

    use_background_server()  # PREFECT_API_URL, else `quantgate server start`'s server, else a temporary one
    if verbose:
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "prefect", "great_expectations", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("psycopg", "psycopg.pool", "sqlalchemy"):  # "pipeline aborted" notices on PostgreSQL
        logging.getLogger(name).setLevel(logging.ERROR)
    _quiet_console_handlers()


def _quiet_console_handlers() -> None:
    """Raise Prefect console handlers already installed (Prefect imported before this call) to CRITICAL."""
    import logging

    if "prefect" not in sys.modules:
        return
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in ("prefect", "uvicorn", "fastapi"))]:
        for handler in logger.handlers:
            if handler.__class__.__name__ == "PrefectConsoleHandler":
                handler.setLevel(logging.CRITICAL)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    """Send everything written to stdout (Python objects and file descriptor 1) to stderr for the duration.

    Yields a line-buffered stream on the real stdout, so ``--json`` output alone reaches it.
    """
    real = sys.stdout
    real.flush()
    try:
        fd = real.fileno()
    except (AttributeError, OSError, ValueError):  # captured output (tests): no descriptor to move
        fd = None
    if fd != 1:
        with contextlib.redirect_stdout(sys.stderr):
            yield real
        return
    saved = os.dup(1)
    out = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8")
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield out
    finally:
        out.flush()
        out.close()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
