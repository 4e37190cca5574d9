"""Ingest and quality-check each distinct dataset of a sweep once, before its experiments start.

Many configs of a sweep share their bars (same source, symbol, timeframe and window). Left to the items,
the first item of each dataset ingests the bars and validates them with Great Expectations; with N worker
processes, N items of one dataset start together and each ingests and validates the same bars, and every
worker process imports Great Expectations (about 3.5 CPU-s). Preparing each dataset once in the sweep's
own process leaves the items a store read and a quality-cache hit (:mod:`pipeline.quality.cache`), the
same results either way. Errors are not raised here: the items that use a dataset meet the same error and
report it as theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import DataConfig
from pipeline.errors import PlatformError, first_line
from pipeline.experiment.data import load_experiment_bars
from pipeline.sweep.discovery import SweepPlan


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


def prepare_datasets(plan: SweepPlan) -> Prepared:
    """Ingest missing bars and validate (cache) the quality of every distinct dataset of ``plan``.

    Parameters
    ----------
    plan : SweepPlan
        The sweep.

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
                bars.bars, asset_class=bars.asset_class, timeframe=data.timeframe, start=data.start, end=data.end
            )
        except PlatformError as exc:
            errors.append(f"{data.symbol} {data.timeframe}: {first_line(exc)}")
    return Prepared(len(datasets), ingested, tuple(errors))
