"""One sweep item under its claim (real claims in quantgate's SQLite database), and progress callbacks."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from pipeline.errors import DataQualityError
from pipeline.store import ensure_schema
from pipeline.store.models import SweepClaim
from pipeline.sweep.claims import FAILED, FINISHED, WorkUnit, claim_work
from pipeline.sweep.running import listener, listening, run_claimed


def _item(label: str):
    return SimpleNamespace(label=label)


def _state(db_url: str, work: WorkUnit) -> str:
    with ensure_schema(db_url).connect() as connection:
        return connection.execute(select(SweepClaim.state).where(SweepClaim.work_key == work.key)).scalar_one()


@pytest.fixture
def work() -> WorkUnit:
    return WorkUnit(f"cfg-{uuid.uuid4().hex[:8]}.yaml", uuid.uuid4().hex[:16], uuid.uuid4().hex, "code1")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'quantgate.db'}"


def test_run_claimed_when_acquired_runs_once_and_marks_the_claim_finished(sqlite_db: str, work: WorkUnit) -> None:
    runs: list[int] = []

    def run():
        runs.append(1)
        return SimpleNamespace(run_id="run-42")

    result = run_claimed(_item(work.label), lambda: claim_work(work, db_url=sqlite_db), run)
    assert (result.status, result.run_id, runs) == ("completed", "run-42", [1])
    assert _state(sqlite_db, work) == FINISHED


def test_run_claimed_when_another_owner_holds_it_skips_without_running(sqlite_db: str, work: WorkUnit) -> None:
    assert claim_work(work, db_url=sqlite_db).acquired  # this process, alive: a live owner

    def run():
        raise AssertionError("must not run")

    result = run_claimed(_item(work.label), lambda: claim_work(work, db_url=sqlite_db), run)
    assert result.status == "skipped" and "running in pid" in (result.note or "")


def test_run_claimed_when_run_fails_reports_the_first_line_and_marks_the_claim_failed(
    sqlite_db: str, work: WorkUnit
) -> None:
    def bad_data():
        raise DataQualityError("AAPL 1d: 3 bars with high < low\nsecond line")

    result = run_claimed(_item(work.label), lambda: claim_work(work, db_url=sqlite_db), bad_data)
    assert (result.status, result.error) == ("failed", "AAPL 1d: 3 bars with high < low")
    assert _state(sqlite_db, work) == FAILED

    def bug():
        raise KeyError("sharpe")

    again = run_claimed(_item(work.label), lambda: claim_work(work, db_url=sqlite_db), bug)  # failed: retried
    assert (again.status, again.error) == ("failed", "KeyError: 'sharpe'")


def test_listening_when_block_ends_forgets_the_callback() -> None:
    seen: list[str] = []
    with listening(seen.append) as key:
        assert key is not None
        callback = listener(key)
        assert callback is not None
        callback("done")
    assert seen == ["done"] and listener(key) is None
    with listening(None) as none:
        assert none is None and listener(none) is None
