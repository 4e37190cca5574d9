"""A folder of hypotheses -> one experiment per config, N at a time, resumable, ranked."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from pipeline.errors import PlatformError, first_line
from pipeline.sweep import SweepItem, hold
from pipeline.sweep.outcome import ItemResult, SweepOutcome
from pipeline.sweep.prepare import lock_datasets
from pipeline.tracking.mlflow_setup import configure_mlflow
from tasks._common import IN_MEMORY
from tasks.sweep import claim, close_sweep, open_sweep, plan_sweep, prepare_data
from tasks.tracking import reap_stale


@task(name="run-experiment", **IN_MEMORY)
def run_item(item: SweepItem, family: str, family_size: int, parent_run_id: str, force: bool) -> ItemResult:
    """Run one experiment as a subflow unless an identical finished run exists or another sweep has claimed it;
    errors stay local to it."""
    from flows.experiment import experiment_flow  # here: the sweep's own process never runs an item at --parallel > 1

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


def _listener(key: str | None) -> Callable[[ItemResult], Any] | None:
    """The progress callback registered under ``key`` (a function, so the flow's code never references the
    registry itself: worker processes receive the flow pickled, and a terminal display does not pickle)."""
    return _LISTENERS.get(key) if key else None


@flow(name="sweep", flow_run_name="sweep {folder}")
def sweep_flow(folder: str, force: bool = False, parallel: int = 1, listener: str | None = None) -> SweepOutcome:
    """Run every experiment under ``folder``, ``parallel`` at a time (worker processes when > 1), also when
    started from a deployment."""
    on_result = _listener(listener)
    configure_mlflow()
    reap_stale()  # runs (this sweep's parent and children included) left RUNNING by killed processes
    plan = plan_sweep(folder)
    parent = open_sweep(plan, parallel)
    results: list[ItemResult] = []
    workers = max(1, min(parallel, len(plan.items)))
    with worker_threads(workers), item_runner(parallel, len(plan.items)) as runner, lock_datasets(plan) as locks:
        futures = [
            runner.submit(
                run_item,
                {
                    "item": item,
                    "family": plan.family,
                    "family_size": len(plan.items),
                    "parent_run_id": parent,
                    "force": force,
                },
            )
            for item in plan.items
        ]
        # Each dataset ingested and validated once (not once per worker), while the workers start; an item
        # waits for its dataset's lock.
        prepare_data(plan, locks)
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
    """Run :func:`sweep_flow` here with ``parallel`` experiments at a time (``parallel`` warm worker processes).

    Worker processes need an API server they can reach: without ``PREFECT_API_URL`` (no `quantgate server
    start`), a temporary one is started for the sweep and stopped after it. Beyond one machine, run the
    `sweep-experiments` / `experiment-run` deployments on Prefect workers sharing one PostgreSQL database.
    """
    key = uuid.uuid4().hex
    if on_result is not None:
        _LISTENERS[key] = on_result
    try:
        with _reachable_api(parallel):
            return sweep_flow(folder, force=force, parallel=parallel, listener=key)
    finally:
        _LISTENERS.pop(key, None)


def item_runner(parallel: int, items: int) -> TaskRunner:
    """The task runner of a sweep's items: this process for ``parallel`` 1, else that many warm processes
    (spawned once, with the experiment modules imported once by :func:`warm_worker`)."""
    workers = max(1, min(parallel, items))
    if workers == 1:
        return ThreadPoolTaskRunner(max_workers=1)
    return ProcessPoolTaskRunner(max_workers=workers, initializer=warm_worker)


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


def warm_worker() -> None:
    """Set up a worker process once, before its first item: import the experiment's heavy modules, and send
    its Prefect events and API logs to the API itself.

    Prefect's process pool otherwise forwards every event of a worker (3 per task run) through a
    multiprocessing queue to the sweep's process, which unpickles it and sends it on: one process relaying
    for all workers, at about 1/3 of the CPU a worker spends on its items. Workers always have an API URL
    (:func:`_reachable_api`), so they can talk to it directly, as any Prefect process does.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import set_api_log_sink

    EventsWorker.set_client_override(None)
    set_api_log_sink(None)
    import flows.experiment  # noqa: F401 - prefect, mlflow, xgboost, the gate's statistics


@contextlib.contextmanager
def _reachable_api(parallel: int) -> Iterator[None]:
    """Give worker processes an API URL: the configured one, else a temporary server for this sweep."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if parallel <= 1 or get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=get_current_settings().server.ephemeral.startup_timeout_seconds)
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield
    finally:
        server.stop()
