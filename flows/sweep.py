"""A folder of hypotheses -> one experiment per config, N at a time, resumable, ranked."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import forkserver
from typing import Any, Self

from prefect import flow, get_run_logger, task
from prefect.futures import as_completed, wait
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.task_runners import (
    ProcessPoolTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    _initialize_process_pool_worker,
)

from flows.preload import EXPERIMENT_MODULES
from pipeline.sweep import SweepItem, running
from pipeline.sweep.outcome import ItemResult, SweepOutcome
from pipeline.sweep.prepare import lock_datasets
from pipeline.sweep.running import run_claimed
from pipeline.tracking.mlflow_setup import configure_mlflow
from tasks._common import IN_MEMORY
from tasks.sweep import claim, close_sweep, open_sweep, plan_sweep, prepare_data, start_worker
from tasks.tracking import reap_stale


@task(name="run-experiment", **IN_MEMORY)
def run_item(item: SweepItem, family: str, family_size: int, parent_run_id: str, force: bool) -> ItemResult:
    """Run one experiment as a subflow under its claim, unless an identical finished run exists or another
    sweep has claimed it; errors stay local to it (:func:`pipeline.sweep.running.run_claimed`)."""
    from flows.experiment import experiment_flow  # here: the sweep's own process never runs an item at --parallel > 1

    def run() -> Any:
        # No flow-run heartbeats for the item's subflow: the sweep's flow run keeps beating for the sweep (a dead
        # worker fails this task), and Prefect's engine joins its heartbeat thread at the end of every flow run,
        # a thread that sleeps in 1-s steps: about 1 s of idle wall time per item (docs/benchmarks.md (f)).
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return experiment_flow(
                str(item.path),
                variant=item.variant,
                parent_run_id=parent_run_id,
                sweep_family=family,
                family_size=family_size,
            )

    return run_claimed(item, claim=lambda: claim(item, force), run=run, logger=get_run_logger())


@flow(name="sweep", flow_run_name="sweep {folder}")
def sweep_flow(folder: str, force: bool = False, parallel: int = 1, listener: str | None = None) -> SweepOutcome:
    """Run every experiment under ``folder``, ``parallel`` at a time (worker processes when > 1), also when
    started from a deployment."""
    on_result = running.listener(listener)
    plan = plan_sweep(folder)
    results: list[ItemResult] = []
    workers = max(1, min(parallel, len(plan.items)))
    runner_in = item_runner(parallel, len(plan.items))
    with running.worker_threads(workers), runner_in as runner:
        # Worker processes spawn on the first submissions: start them now, so they import while this
        # process sets up MLflow (a new store migrates for seconds) and opens the sweep's run.
        started = [runner.submit(start_worker, {}) for _ in range(workers)] if workers > 1 else []
        configure_mlflow()
        reap_stale()  # runs (this sweep's parent and children included) left RUNNING by killed processes
        parent = open_sweep(plan, parallel)
        with lock_datasets(plan) as locks:
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
            # Each dataset ingested and validated once (not once per worker), while the workers start; an
            # item waits for its dataset's lock.
            prepare_data(plan, locks)
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if on_result is not None:
                on_result(result)
        wait(started)
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
    with running.listening(on_result) as key, _reachable_api(parallel):
        return sweep_flow(folder, force=force, parallel=parallel, listener=key)


def item_runner(parallel: int, items: int) -> TaskRunner:
    """The task runner of a sweep's items: this process for ``parallel`` 1, else that many warm processes
    (:class:`WarmProcessPoolTaskRunner`, set up once by :func:`warm_worker`)."""
    workers = max(1, min(parallel, items))
    if workers == 1:
        return ThreadPoolTaskRunner(max_workers=1)
    return WarmProcessPoolTaskRunner(max_workers=workers, initializer=warm_worker)


_STOPPING_FORK_SERVERS: list[threading.Thread] = []


class WarmProcessPoolTaskRunner(ProcessPoolTaskRunner):
    """Prefect's process pool, with workers forked from one process that has imported the experiment modules.

    ``ProcessPoolTaskRunner`` spawns every worker as a new interpreter that imports Prefect, MLflow, XGBoost
    and the rest itself (about 4-5 CPU-s each, at the same time as the sweep's own set-up). Here the standard
    library's ``forkserver`` imports :data:`flows.preload.EXPERIMENT_MODULES` once and forks the workers from
    that state: N workers cost one import, and start as soon as it is done. The fork server is started by the
    CLI (:func:`flows.preload.start_fork_server`) or the first submission, with this process's environment at
    that moment, and stopped when the pool closes, so a later sweep in the same process (tests, a long-lived
    deployment worker) gets one with its own environment.
    Everything else (context and environment per task, cancellation, event forwarding) is Prefect's.
    """

    def __enter__(self) -> Self:
        while _STOPPING_FORK_SERVERS:  # the previous pool's fork server must be gone before this one starts
            _STOPPING_FORK_SERVERS.pop().join()
        TaskRunner.__enter__(self)  # Prefect's ProcessPoolTaskRunner.__enter__, with another start method
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(EXPERIMENT_MODULES))  # the CLI may have started it already
        self._subprocess_message_queue = context.Queue()
        self._message_forwarding_thread = threading.Thread(
            target=self._forward_subprocess_messages, name="ProcessPoolTaskRunnerMessageForwarder", daemon=True
        )
        self._message_forwarding_thread.start()
        try:
            self._executor = ProcessPoolExecutor(
                max_workers=self._max_workers,
                mp_context=context,
                initializer=_initialize_process_pool_worker,
                initargs=(self._subprocess_message_queue, self._initializer, self._initargs),
            )
            self._resolver_executor = ThreadPoolExecutor(max_workers=self._max_workers)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            # Stop the fork server (no public API; the pool's workers have exited): it ends when its "alive" pipe
            # closes, after its own interpreter teardown (~1 s), which nothing here needs to wait for. The next
            # pool in this process waits for that stop (__enter__), then starts a fresh one.
            stopping = threading.Thread(target=forkserver._forkserver._stop, name="stop-forkserver", daemon=True)
            stopping.start()
            _STOPPING_FORK_SERVERS.append(stopping)


def warm_worker() -> None:
    """Set up a worker process once, before its first item: send its Prefect events and API logs to the API
    itself, and make sure the experiment's modules are imported.

    Prefect's process pool otherwise forwards every event of a worker (3 per task run, about 50 per item)
    through a multiprocessing queue to the sweep's process, which unpickles it and sends it on: pickling in
    the workers, and about 6 CPU-s of relaying in the sweep's process for a 20-item sweep (docs/benchmarks.md
    (f)). Workers always have an API URL (:func:`_reachable_api`), so they talk to it directly, as any Prefect
    process does.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import set_api_log_sink

    EventsWorker.set_client_override(None)
    set_api_log_sink(None)
    import flows.experiment  # noqa: F401 - imported by the fork server already; here in case it failed there


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
