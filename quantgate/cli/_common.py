"""Helpers shared by the CLI modules: one-line errors, consoles, quiet orchestration logs."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from pipeline.errors import PlatformError

# Piped or captured output is not squeezed to 80 columns: tables keep whole names and run ids.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clean error line to stderr and return the Exit to raise."""
    err_console.print(f"error: {message}", highlight=False, soft_wrap=True, markup=False)
    return typer.Exit(code)


def one_line_errors(func: F) -> F:
    """Turn a :class:`PlatformError` into one line on stderr and exit status 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlatformError as exc:
            raise fail(" ".join(str(exc).split()) or exc.__class__.__name__) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def quiet_orchestration(verbose: bool) -> None:
    """Keep Prefect/MLflow chatter off the terminal unless --verbose (set before they are imported)."""
    # Prefect's temporary server gets 20 s to start by default; a busy 2-core machine needs more.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if verbose:
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "prefect", "great_expectations", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
