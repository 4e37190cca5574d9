"""Sweeps claim their work in quantgate's database, so N sweeps over one folder run each config once.

A unit of work is a config on given data with given code: the resume key (config hash, data fingerprint,
code version), hashed into ``sweep_claims.work_key``. A sweep claims an item before running it (an
``INSERT ... ON CONFLICT DO NOTHING``, else a compare-and-set takeover of the existing row, in one
transaction; PostgreSQL also row-locks it with ``FOR UPDATE``), refreshes ``heartbeat_at`` while it runs,
and marks the claim ``finished`` or ``failed`` afterwards.

Another sweep skips an item that is ``finished`` (unless forced) or ``claimed`` by a live owner. It takes
over a ``failed`` claim (failed work is retried) and a ``claimed`` one whose owner died: same host and
the process is gone (or its pid now belongs to a newer process), or no heartbeat for ``stale_after_s``
(other hosts, hung processes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from pipeline import settings
from pipeline.errors import StoreError, first_line
from pipeline.experiment.record import code_version
from pipeline.store import ensure_schema
from pipeline.store.models import SweepClaim
from pipeline.sweep.discovery import SweepItem
from pipeline.sweep.resume import completed_run
from pipeline.tracking.stale import process_alive

CLAIMED, FINISHED, FAILED = "claimed", "finished", "failed"
HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0
_TABLE = SweepClaim.__table__


@dataclass(frozen=True)
class WorkUnit:
    """What a claim is about: one config on given data with given code."""

    label: str
    config_hash: str
    data_fingerprint: str
    code_version: str

    @property
    def key(self) -> str:
        """The claim's primary key: a hash of the resume key."""
        raw = f"{self.config_hash}|{self.data_fingerprint}|{self.code_version}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The answer to a claim attempt.

    Attributes
    ----------
    work : WorkUnit
        What was claimed.
    acquired : bool
        Whether this process now owns the work and should run it.
    token : str or None
        This claim's token (compare-and-set key for heartbeat and release); None when not acquired.
    run_id : str or None
        When not acquired because the work is done: the finished run.
    note : str
        Why not acquired (``running in pid 123 on host``), or what was taken over; empty otherwise.
    db_url : str or None
        quantgate's database the claim lives in.
    """

    work: WorkUnit
    acquired: bool
    token: str | None = None
    run_id: str | None = None
    note: str = ""
    db_url: str | None = None


@dataclass(frozen=True)
class _Owner:
    host: str
    pid: int
    started: str | None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def _me() -> _Owner:
    return _Owner(socket.gethostname()[:255], os.getpid(), _process_start(os.getpid()))


def _process_gone(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` on this host has ended (or the pid now belongs to a newer process)."""
    if not process_alive(pid):
        return True
    return started is not None and _process_start(pid) not in (None, started)


def _owner_dead(row: Row, now: dt.datetime, me: _Owner, stale_after_s: float) -> bool:
    if (now - row.heartbeat_at).total_seconds() > stale_after_s:
        return True
    if row.owner_host != me.host or (row.owner_pid, row.owner_started) == (me.pid, me.started):
        return False
    return _process_gone(row.owner_pid, row.owner_started)


def _insert(connection: Connection):
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(SweepClaim)


def _store_error(what: str, db_url: str | None, exc: Exception) -> StoreError:
    url = settings.redact_url(db_url or settings.db_url())
    return StoreError(f"{what} in {url}: {exc.__class__.__name__}: {first_line(exc)}")


def claim_work(
    work: WorkUnit,
    *,
    force: bool = False,
    db_url: str | None = None,
    stale_after_s: float = STALE_AFTER_S,
) -> Claim:
    """Claim ``work`` for this process, or say who has it or where it was done.

    Parameters
    ----------
    work : WorkUnit
        The config, data fingerprint and code version.
    force : bool
        Also take over a ``finished`` claim (rerun work already done); a live owner's claim is never
        taken.
    db_url : str, optional
        quantgate's database.
    stale_after_s : float
        A claim without a heartbeat for this long belongs to a dead owner.

    Returns
    -------
    Claim
        ``acquired`` True when this process should run the work.

    Raises
    ------
    StoreError
        If the database cannot be reached.
    """
    me = _me()
    token = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    fresh = {
        "state": CLAIMED,
        "owner_host": me.host,
        "owner_pid": me.pid,
        "owner_started": me.started,
        "token": token,
        "claimed_at": now,
        "heartbeat_at": now,
        "finished_at": None,
        "run_id": None,
    }
    try:
        with ensure_schema(db_url).begin() as connection:
            inserted = connection.execute(
                _insert(connection)
                .values(
                    work_key=work.key,
                    label=work.label,
                    config_hash=work.config_hash,
                    data_fingerprint=work.data_fingerprint,
                    code_version=work.code_version,
                    attempts=1,
                    **fresh,
                )
                .on_conflict_do_nothing(index_elements=["work_key"])
                .returning(_TABLE.c.work_key)
            ).first()
            if inserted is not None:
                return Claim(work, True, token=token, db_url=db_url)
            row = connection.execute(select(_TABLE).where(_TABLE.c.work_key == work.key).with_for_update()).one()
            holder = _Owner(row.owner_host, row.owner_pid, row.owner_started).describe()
            if row.state == FINISHED and not force:
                return Claim(work, False, run_id=row.run_id, note=f"already run by {holder}", db_url=db_url)
            if row.state == CLAIMED and not _owner_dead(row, now, me, stale_after_s):
                return Claim(work, False, note=f"running in {holder}", db_url=db_url)
            taken = connection.execute(
                update(SweepClaim)
                .where(SweepClaim.work_key == work.key, SweepClaim.token == row.token)
                .values(label=work.label, attempts=row.attempts + 1, **fresh)
            )
            if taken.rowcount != 1:  # another sweep took it over first
                return Claim(work, False, note="claimed by another sweep", db_url=db_url)
            note = {CLAIMED: f"taken over from {holder} (gone)", FAILED: f"retrying: failed in {holder}"}
            return Claim(work, True, token=token, note=note.get(row.state, ""), db_url=db_url)
    except SQLAlchemyError as exc:
        raise _store_error(f"cannot claim {work.label}", db_url, exc) from exc


def claim_item(item: SweepItem, fingerprint: str, *, force: bool = False, db_url: str | None = None) -> Claim:
    """Claim sweep item ``item`` on data ``fingerprint`` unless a finished run of it exists (or ``force``).

    Parameters
    ----------
    item : SweepItem
        The config.
    fingerprint : str
        The data fingerprint of its bars.
    force : bool
        Rerun even when done (a live owner's claim is still respected).
    db_url : str, optional
        quantgate's database.

    Returns
    -------
    Claim
        Acquired, or not with the finished run's id or the live owner.
    """
    work = WorkUnit(item.label, item.config_hash, fingerprint, code_version())
    if not force:
        existing = completed_run(item, fingerprint)
        if existing is not None:
            return Claim(work, False, run_id=existing, db_url=db_url)
    return claim_work(work, force=force, db_url=db_url)


def beat(claim: Claim) -> bool:
    """Refresh the claim's heartbeat; return False when it is no longer this process's claim."""
    if not claim.acquired:
        return False
    try:
        with ensure_schema(claim.db_url).begin() as connection:
            result = connection.execute(
                update(SweepClaim)
                .where(SweepClaim.work_key == claim.work.key, SweepClaim.token == claim.token)
                .where(SweepClaim.state == CLAIMED)
                .values(heartbeat_at=dt.datetime.now(dt.UTC))
            )
    except SQLAlchemyError:
        return True  # a transient outage: keep beating; a long one makes the claim stale, as it should
    return result.rowcount == 1


def release(claim: Claim, state: str, run_id: str | None = None) -> bool:
    """Mark the claim ``finished`` or ``failed``; return False when another sweep had taken it over.

    Raises
    ------
    StoreError
        If the database cannot be reached.
    """
    if state not in (FINISHED, FAILED):
        raise ValueError(f"claim state must be {FINISHED!r} or {FAILED!r}, not {state!r}")
    if not claim.acquired:
        return False
    try:
        with ensure_schema(claim.db_url).begin() as connection:
            result = connection.execute(
                update(SweepClaim)
                .where(SweepClaim.work_key == claim.work.key, SweepClaim.token == claim.token)
                .values(state=state, run_id=run_id, finished_at=dt.datetime.now(dt.UTC))
            )
    except SQLAlchemyError as exc:
        raise _store_error(f"cannot mark {claim.work.label} {state}", claim.db_url, exc) from exc
    return result.rowcount == 1


class HeldClaim:
    """A claim being worked on: a heartbeat thread runs until :meth:`finish` or the block ends."""

    def __init__(self, claim: Claim, interval_s: float = HEARTBEAT_S) -> None:
        self.claim = claim
        self.finished = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(interval_s,), name="claim-heartbeat", daemon=True)

    def _beat(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            if not beat(self.claim):
                return

    def finish(self, run_id: str | None) -> None:
        """Record the work as done by run ``run_id``."""
        self._stop.set()
        release(self.claim, FINISHED, run_id)
        self.finished = True


@contextmanager
def hold(claim: Claim, interval_s: float = HEARTBEAT_S) -> Iterator[HeldClaim]:
    """Keep ``claim`` alive while the block runs; mark it ``failed`` unless the block called ``finish``.

    Parameters
    ----------
    claim : Claim
        An acquired claim.
    interval_s : float
        Seconds between heartbeats.

    Yields
    ------
    HeldClaim
        Call ``finish(run_id)`` when the work succeeded.
    """
    held = HeldClaim(claim, interval_s)
    held._thread.start()
    try:
        yield held
    finally:
        held._stop.set()
        held._thread.join(timeout=5)
        if not held.finished:
            # The original error matters more; an unmarked claim goes stale and is taken over.
            with suppress(StoreError):
                release(claim, FAILED)
