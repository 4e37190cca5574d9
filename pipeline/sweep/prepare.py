"""Ingest and quality-check each distinct dataset of a sweep once, before its experiments start.

Many configs of a sweep share their bars (same source, symbol, timeframe and window). Left to the items,
the first item of each dataset ingests the bars and validates them with Great Expectations; with N worker
processes, N items of one dataset start together and each ingests and validates the same bars, and every
worker process imports Great Expectations (about 3.5 CPU-s). Preparing each dataset once in the sweep's
own process leaves the items a store read and a quality-cache hit (:mod:`pipeline.quality.cache`), the
same results either way. Errors are not raised here: the items that use a dataset meet the same error and
report it as theirs.

The sweep's process prepares while its worker processes start (they spawn and import for several
seconds): it takes an exclusive file lock per dataset under ``$QUANTGATE_HOME/cache/datasets/`` before the
items are submitted and releases each once that dataset is ready; an item reads its bars under a shared
lock (:func:`load_prepared_bars`), so it waits for its own dataset only, and never when nobody prepares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipeline import settings
from pipeline.config import DataConfig
from pipeline.errors import PlatformError, first_line
from pipeline.experiment.data import ExperimentBars, load_experiment_bars
from pipeline.sweep.discovery import SweepPlan

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no coordination, only duplicated work
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Prepared:
    """What preparing a sweep's datasets did."""

    datasets: int
    ingested_bars: int
    errors: tuple[str, ...]


def distinct_datasets(plan: SweepPlan) -> list[DataConfig]:
    """The sweep's data sections without repeats, in the order the items use them."""
    seen: dict[str, DataConfig] = {}
    for item in plan.items:
        seen.setdefault(item.config.data.model_dump_json(), item.config.data)
    return list(seen.values())


def _lock_path(data: DataConfig) -> Path:
    key = hashlib.sha256(data.model_dump_json().encode()).hexdigest()[:24]
    return settings.home() / "cache" / "datasets" / f"{key}.lock"


def _open_locked(data: DataConfig, mode: int) -> IO[bytes] | None:
    if fcntl is None:
        return None
    path = _lock_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("ab")
    fcntl.flock(handle, mode)
    return handle


class DatasetLocks:
    """Exclusive locks on a sweep's datasets while its process prepares them (see the module docs)."""

    def __init__(self, datasets: list[DataConfig]) -> None:
        self.datasets = datasets
        self._held: dict[str, IO[bytes] | None] = {}
        for data in datasets:
            self._held[data.model_dump_json()] = _open_locked(data, fcntl.LOCK_EX if fcntl else 0)

    def release(self, data: DataConfig) -> None:
        """Let items read ``data`` (prepared, or failed: they then meet the error themselves)."""
        handle = self._held.pop(data.model_dump_json(), None)
        if handle is not None:
            handle.close()  # closing the file drops its lock

    def close(self) -> None:
        """Release every lock still held."""
        for data in list(self.datasets):
            self.release(data)


@contextmanager
def lock_datasets(plan: SweepPlan) -> Iterator[DatasetLocks]:
    """Hold an exclusive lock on each distinct dataset of ``plan`` until it is released or the block ends."""
    locks = DatasetLocks(distinct_datasets(plan))
    try:
        yield locks
    finally:
        locks.close()


def load_prepared_bars(data: DataConfig) -> ExperimentBars:
    """:func:`load_experiment_bars` once no process of this machine is preparing ``data`` (a shared lock:
    items of any number of sweeps read at once)."""
    handle = _open_locked(data, fcntl.LOCK_SH if fcntl else 0)
    try:
        return load_experiment_bars(data)
    finally:
        if handle is not None:
            handle.close()


def prepare_datasets(plan: SweepPlan, locks: DatasetLocks | None = None) -> Prepared:
    """Ingest missing bars and validate (cache) the quality of every distinct dataset of ``plan``.

    Parameters
    ----------
    plan : SweepPlan
        The sweep.
    locks : DatasetLocks, optional
        The sweep's locks: each is released as soon as its dataset is prepared (or failed).

    Returns
    -------
    Prepared
        How many datasets, how many bars were newly stored, and one line per dataset that failed (its items
        will fail with the same error).
    """
    from pipeline.quality.cache import validate_bars_cached

    ingested, errors = 0, []
    datasets = distinct_datasets(plan)
    for data in datasets:
        try:
            bars = load_experiment_bars(data)
            ingested += bars.ingested
            validate_bars_cached(
                bars.bars,
                asset_class=bars.asset_class,
                timeframe=data.timeframe,
                start=data.start,
                end=data.end,
                symbol=data.symbol,  # as the experiment's quality task does
            )
        except PlatformError as exc:
            errors.append(f"{data.symbol} {data.timeframe}: {first_line(exc)}")
        finally:
            if locks is not None:
                locks.release(data)
    return Prepared(len(datasets), ingested, tuple(errors))
