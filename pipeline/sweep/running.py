"""How a sweep runs its items, without Prefect: one item under its claim, worker threads, progress callbacks.

``flows/sweep.py`` composes these with Prefect: its ``run-experiment`` task calls :func:`run_claimed` with the
claim task and the experiment subflow, its task runner's workers get :func:`worker_threads`, and the
progress callbacks of :func:`listening` reach the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.errors import PlatformError, first_line
from pipeline.experiment.outcome import ExperimentOutcome
from pipeline.sweep.claims import Claim, hold
from pipeline.sweep.discovery import SweepItem
from pipeline.sweep.outcome import ItemResult

_log = logging.getLogger(__name__)


def run_claimed(
    item: SweepItem,
    claim: Callable[[], Claim],
    run: Callable[[], ExperimentOutcome],
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> ItemResult:
    """Run one sweep item unless it is done or another sweep has claimed it; errors stay local to it.

    Parameters
    ----------
    item : SweepItem
        The config.
    claim : callable
        Claims the item (:func:`pipeline.sweep.claim_item` on its data); called once.
    run : callable
        Runs the experiment while the claim is held (heartbeats); called only when the claim was acquired.
    logger : logging.Logger, optional
        Where an unexpected error's traceback goes (a Prefect run logger in a flow).

    Returns
    -------
    ItemResult
        ``completed`` with the outcome, ``skipped`` with the finished run or the owner, or ``failed`` with
        the error's first line (a :class:`PlatformError`'s message; the class and message of anything else).
    """
    try:
        claimed = claim()
        if not claimed.acquired:
            return ItemResult(item.label, "skipped", run_id=claimed.run_id, note=claimed.note or None)
        with hold(claimed) as held:
            outcome = run()
            held.finish(outcome.run_id)
        return ItemResult(item.label, "completed", outcome=outcome, run_id=outcome.run_id)
    except PlatformError as exc:
        return ItemResult(item.label, "failed", error=first_line(exc))
    except Exception as exc:  # noqa: BLE001 - an unexpected error fails this item, not the whole sweep
        (logger or _log).exception("sweep item %s failed", item.label)
        name, line = exc.__class__.__name__, first_line(exc)
        return ItemResult(item.label, "failed", error=line if line == name else f"{name}: {line}")


# Progress callbacks of sweeps started in this process, by key: flow parameters stay plain data (Prefect
# stores them, and a deployment could not pass a terminal display anyway).
_LISTENERS: dict[str, Callable[[ItemResult], Any]] = {}


@contextlib.contextmanager
def listening(callback: Callable[[ItemResult], Any] | None) -> Iterator[str | None]:
    """Register ``callback`` for the block; yields the key to pass to the sweep (None without a callback)."""
    if callback is None:
        yield None
        return
    key = uuid.uuid4().hex
    _LISTENERS[key] = callback
    try:
        yield key
    finally:
        _LISTENERS.pop(key, None)


def listener(key: str | None) -> Callable[[ItemResult], Any] | None:
    """The progress callback registered under ``key``, if any (in this process)."""
    return _LISTENERS.get(key) if key else None


#: Thread-pool sizes that numeric libraries read once, at load time (XGBoost's OpenMP, NumPy's BLAS).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def worker_threads(workers: int) -> Iterator[None]:
    """Give each of ``workers`` worker processes an equal share of this machine's cores.

    Worker processes are spawned inside this block and inherit its environment: each gets
    ``cores // workers`` (at least 1) OpenMP/BLAS threads, so N workers do not start N x cores threads
    that wait on each other at every parallel region. Variables the user set are left alone; the
    environment is restored afterwards. Nothing changes for one worker (this process).
    """
    if workers <= 1:
        yield
        return
    threads = str(max(1, len(os.sched_getaffinity(0)) // workers))
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = threads
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
