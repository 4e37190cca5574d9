"""Worker processes of a parallel sweep split the machine's cores instead of each taking all of them."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from pipeline.sweep.running import THREAD_VARIABLES, worker_threads


def _child_environment(queue: multiprocessing.Queue) -> None:
    queue.put({name: os.environ.get(name) for name in THREAD_VARIABLES})


@pytest.mark.slow  # spawns two worker processes that import the experiment modules (~15 s)
def test_worker_threads_when_two_workers_spawned_children_get_half_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    expected = str(max(1, len(os.sched_getaffinity(0)) // 2))
    context = multiprocessing.get_context("spawn")  # as Prefect's ProcessPoolTaskRunner starts its workers
    queue = context.Queue()
    with worker_threads(2):
        child = context.Process(target=_child_environment, args=(queue,))
        child.start()
        seen = queue.get(timeout=120)
        child.join(timeout=60)
    assert seen == dict.fromkeys(THREAD_VARIABLES, expected)
    assert not any(name in os.environ for name in THREAD_VARIABLES)  # restored


def test_worker_threads_when_user_set_a_variable_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with worker_threads(2):
        assert os.environ["OMP_NUM_THREADS"] == "7"
        assert os.environ["OPENBLAS_NUM_THREADS"] == str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_worker_threads_when_one_worker_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with worker_threads(1):
        assert not any(name in os.environ for name in THREAD_VARIABLES)
