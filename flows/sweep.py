"""A folder of hypotheses -> one experiment per config, N at a time, resumable, ranked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.experiment import experiment_flow
from pipeline.errors import PlatformError, first_line
from pipeline.experiment import ExperimentOutcome
from pipeline.sweep import SweepItem, hold
from tasks._common import IN_MEMORY
from tasks.sweep import claim, close_sweep, open_sweep, plan_sweep
from tasks.tracking import reap_stale


@dataclass
class ItemResult:
    """What happened to one experiment of a sweep."""

    label: str
    status: Literal["completed", "skipped", "failed"]
    outcome: ExperimentOutcome | None = None
    run_id: str | None = None
    error: str | None = None
    note: str | None = None


@dataclass
class SweepOutcome:
    """A finished sweep: per-item results, unreadable files and the leaderboard."""

    family: str
    run_id: str
    results: list[ItemResult]
    bad_files: list[str]
    leaderboard: pd.DataFrame = field(default_factory=pd.DataFrame)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


@task(name="run-experiment", **IN_MEMORY)
def run_item(item: SweepItem, family: str, family_size: int, parent_run_id: str, force: bool) -> ItemResult:
    """Run one experiment as a subflow unless an identical finished run exists or another sweep has claimed it;
    errors stay local to it."""
    try:
        claimed = claim(item, force)
        if not claimed.acquired:
            return ItemResult(item.label, "skipped", run_id=claimed.run_id, note=claimed.note or None)
        with hold(claimed) as held:
            outcome = experiment_flow(
                str(item.path),
                variant=item.variant,
                parent_run_id=parent_run_id,
                sweep_family=family,
                family_size=family_size,
            )
            held.finish(outcome.run_id)
        return ItemResult(item.label, "completed", outcome=outcome, run_id=outcome.run_id)
    except PlatformError as exc:
        return ItemResult(item.label, "failed", error=first_line(exc))
    except Exception as exc:  # noqa: BLE001 - an unexpected error fails this item, not the whole sweep
        get_run_logger().exception("sweep item %s failed", item.label)
        name, line = exc.__class__.__name__, first_line(exc)
        return ItemResult(item.label, "failed", error=line if line == name else f"{name}: {line}")


# Progress callbacks of sweeps started in this process, by key: flow parameters stay plain data (Prefect
# stores them, and a deployment could not pass a terminal display anyway).
_LISTENERS: dict[str, Callable[[ItemResult], Any]] = {}


@flow(name="sweep", flow_run_name="sweep {folder}")
def sweep_flow(folder: str, force: bool = False, parallel: int = 1, listener: str | None = None) -> SweepOutcome:
    """Run every experiment under ``folder``; run it with :func:`run_sweep` to set the parallelism."""
    on_result = _LISTENERS.get(listener) if listener else None
    reap_stale()  # runs (this sweep's parent and children included) left RUNNING by killed processes
    plan = plan_sweep(folder)
    parent = open_sweep(plan, parallel)
    futures = [run_item.submit(item, plan.family, len(plan.items), parent, force) for item in plan.items]
    results: list[ItemResult] = []
    for future in as_completed(futures):
        result = future.result()
        results.append(result)
        if on_result is not None:
            on_result(result)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("completed", "skipped", "failed")}
    counts["bad_files"] = len(plan.errors)
    board = close_sweep(parent, plan.family, counts)
    order = {item.label: i for i, item in enumerate(plan.items)}
    results.sort(key=lambda r: order.get(r.label, 0))
    return SweepOutcome(plan.family, parent, results, list(plan.errors), board)


def run_sweep(
    folder: str, *, parallel: int = 1, force: bool = False, on_result: Callable[[ItemResult], Any] | None = None
) -> SweepOutcome:
    """Run :func:`sweep_flow` with ``parallel`` experiments at a time on this machine (threads).

    Beyond one machine, run the `sweep-experiments` / `experiment-run` deployments on Prefect workers.
    """
    runner = ThreadPoolTaskRunner(max_workers=max(1, parallel))
    key = uuid.uuid4().hex
    if on_result is not None:
        _LISTENERS[key] = on_result
    try:
        return sweep_flow.with_options(task_runner=runner)(folder, force=force, parallel=parallel, listener=key)
    finally:
        _LISTENERS.pop(key, None)
