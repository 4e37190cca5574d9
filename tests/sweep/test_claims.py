"""Sweep claims on quantgate's database (SQLite and PostgreSQL): one owner per unit of work, takeovers."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from pipeline.store import ensure_schema
from pipeline.store.models import SweepClaim
from pipeline.sweep.claims import FAILED, FINISHED, WorkUnit, claim_work, hold, release
from tests.conftest import REPO


def _work() -> WorkUnit:
    return WorkUnit(f"cfg-{uuid.uuid4().hex[:8]}.yaml", uuid.uuid4().hex[:16], uuid.uuid4().hex, "code1")


def _row(db_url: str, work: WorkUnit):
    with ensure_schema(db_url).connect() as connection:
        return connection.execute(select(SweepClaim.__table__).where(SweepClaim.work_key == work.key)).one()


def _set(db_url: str, work: WorkUnit, **values) -> None:
    with ensure_schema(db_url).begin() as connection:
        connection.execute(update(SweepClaim).where(SweepClaim.work_key == work.key).values(**values))


def test_claim_when_eight_threads_race_exactly_one_acquires(db_url: str) -> None:
    work = _work()
    start = threading.Barrier(8)

    def go(_: int):
        start.wait()
        return claim_work(work, db_url=db_url)

    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(go, range(8)))
    assert sum(c.acquired for c in claims) == 1
    assert all("running in pid" in c.note for c in claims if not c.acquired)
    row = _row(db_url, work)
    assert (row.state, row.attempts, row.label) == ("claimed", 1, work.label)


def test_claim_when_finished_skips_with_run_id_unless_forced(db_url: str) -> None:
    work = _work()
    first = claim_work(work, db_url=db_url)
    assert release(first, FINISHED, "run-1")
    again = claim_work(work, db_url=db_url)
    assert (again.acquired, again.run_id) == (False, "run-1")
    forced = claim_work(work, force=True, db_url=db_url)
    assert forced.acquired and forced.token != first.token
    assert not release(first, FAILED)  # the old token no longer owns it
    row = _row(db_url, work)
    assert (row.state, row.attempts, row.run_id) == ("claimed", 2, None)


def test_claim_when_failed_is_retried(db_url: str) -> None:
    work = _work()
    assert release(claim_work(work, db_url=db_url), FAILED)
    retry = claim_work(work, db_url=db_url)
    assert retry.acquired and "retrying: failed in pid" in retry.note


@pytest.mark.slow
def test_claim_when_owner_killed_is_taken_over(db_url: str) -> None:
    work = _work()
    code = (
        "import sys, time\n"
        "from pipeline.sweep.claims import WorkUnit, claim_work\n"
        f"c = claim_work(WorkUnit(*{(work.label, work.config_hash, work.data_fingerprint, work.code_version)!r}), "
        f"db_url={db_url!r})\n"
        "print('acquired' if c.acquired else 'no', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "acquired"
    held = claim_work(work, db_url=db_url)
    assert not held.acquired and f"pid {proc.pid}" in held.note
    proc.kill()
    proc.wait(timeout=30)
    taken = claim_work(work, db_url=db_url)
    assert taken.acquired and f"taken over from pid {proc.pid}" in taken.note
    assert _row(db_url, work).attempts == 2


def test_claim_when_other_host_heartbeat_is_stale_is_taken_over(db_url: str) -> None:
    work = _work()
    claim_work(work, db_url=db_url)
    _set(db_url, work, owner_host="worker-7", owner_pid=1)
    assert not claim_work(work, db_url=db_url).acquired  # fresh heartbeat: alive wherever it is
    _set(db_url, work, heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    taken = claim_work(work, db_url=db_url, stale_after_s=300)
    assert taken.acquired and "worker-7" in taken.note


def test_hold_when_block_runs_beats_and_marks_failed_on_error(db_url: str) -> None:
    work = _work()
    claim = claim_work(work, db_url=db_url)
    before = _row(db_url, work).heartbeat_at
    with pytest.raises(RuntimeError), hold(claim, interval_s=0.05):
        deadline = time.monotonic() + 30
        while _row(db_url, work).heartbeat_at == before and time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError("boom")
    row = _row(db_url, work)
    assert row.heartbeat_at > before and row.state == "failed" and row.finished_at is not None
    done = claim_work(work, db_url=db_url)
    with hold(done) as held:
        held.finish("run-9")
    assert (_row(db_url, work).state, _row(db_url, work).run_id) == ("finished", "run-9")
