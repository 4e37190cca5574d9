"""Who owns a RUNNING MLflow run, and reaping the runs whose owner died.

Every run quantgate creates (:func:`pipeline.tracking.start_run`) carries its owner's process id and host
(:data:`~pipeline.tracking.tags.OWNER_PID`, :data:`~pipeline.tracking.tags.OWNER_HOST`) and a heartbeat
(:data:`~pipeline.tracking.tags.OWNER_HEARTBEAT`, a UTC ISO time) that the owner refreshes at stage
boundaries. A process killed with ``kill -9`` cannot end its run; :func:`reap_stale_runs` (called at the
start of ``quantgate run`` and ``quantgate sweep``) marks such runs KILLED:

- on this host: the owner process no longer exists (or is a zombie, or its pid now belongs to a process
  started at another time: tag :data:`~pipeline.tracking.tags.OWNER_STARTED`);
- on another host: the heartbeat (or, without one, the run's start) is older than
  :func:`pipeline.settings.stale_run_timeout` (``QUANTGATE_STALE_RUN_HOURS``, default 24 h).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.tracking import tags as T

logger = logging.getLogger(__name__)

_PAGE = 1000
_MAX_PAGES = 100  # at most 100k RUNNING runs looked at per reaping


def now_text() -> str:
    """Return the current UTC time as the heartbeat tag's value (ISO 8601, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def process_started(pid: int) -> str | None:
    """Return the start time of process ``pid`` in clock ticks since boot (Linux), or None elsewhere."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def owner_tags() -> dict[str, str]:
    """Return the tags naming this process as a run's owner, with a fresh heartbeat."""
    tags = {T.OWNER_PID: str(os.getpid()), T.OWNER_HOST: socket.gethostname(), T.OWNER_HEARTBEAT: now_text()}
    started = process_started(os.getpid())
    if started is not None:
        tags[T.OWNER_STARTED] = started
    return tags


def process_alive(pid: int, started: str | None = None) -> bool:
    """Return whether process ``pid`` exists on this host, is not a zombie, and (when known) is the same process.

    Parameters
    ----------
    pid : int
        A process id.
    started : str, optional
        The owner's start time (:func:`process_started`); a different one means the pid was reused.

    Returns
    -------
    bool
        False when there is no such process, it has exited but was not yet waited for, or the pid now
        belongs to another process.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    fields = _proc_stat(pid)
    if not fields:
        return True  # no /proc (macOS): kill(0) said it exists
    if fields[0] in {"Z", "X"}:
        return False
    return started is None or len(fields) <= 19 or fields[19] == started


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def stale_reason(
    tags: Mapping[str, str],
    start_time_ms: int | None,
    *,
    host: str,
    now: dt.datetime,
    timeout: dt.timedelta,
) -> str | None:
    """Return why a RUNNING run is stale (one line), or None when its owner may still be alive.

    Parameters
    ----------
    tags : Mapping[str, str]
        The run's tags.
    start_time_ms : int, optional
        The run's start (MLflow milliseconds), used when it has no heartbeat.
    host : str
        This host's name.
    now : datetime
        The current UTC time.
    timeout : timedelta
        How long a run of another host may go without a heartbeat.

    Returns
    -------
    str or None
        For instance ``owner pid 123 on host h is gone``.
    """
    pid_text, owner_host = tags.get(T.OWNER_PID), tags.get(T.OWNER_HOST)
    if owner_host == host and pid_text and pid_text.isdigit():
        if process_alive(int(pid_text), tags.get(T.OWNER_STARTED)):
            return None
        return f"owner pid {pid_text} on host {host} is gone"
    beat = _parse_time(tags.get(T.OWNER_HEARTBEAT))
    if beat is None and start_time_ms:
        beat = dt.datetime.fromtimestamp(start_time_ms / 1000, tz=dt.UTC)
    if beat is None or now - beat <= timeout:
        return None
    where = f"host {owner_host}" if owner_host else "an unknown owner"
    return f"no heartbeat from {where} since {beat.isoformat(timespec='seconds')} (timeout {timeout})"


@dataclass(frozen=True)
class ReapedRun:
    """A RUNNING run that was marked KILLED, and why."""

    run_id: str
    experiment_id: str
    reason: str


def reap_stale_runs(timeout: dt.timedelta | None = None) -> list[ReapedRun]:
    """Mark every RUNNING run of a dead owner KILLED (tags ``quantgate.status`` and ``quantgate.reaped_by``).

    Call :func:`pipeline.tracking.configure_mlflow` first. A run that ends between the search and the
    update is left as its owner ended it.

    Parameters
    ----------
    timeout : timedelta, optional
        Heartbeat timeout for runs of other hosts (default :func:`pipeline.settings.stale_run_timeout`).

    Returns
    -------
    list[ReapedRun]
        The runs marked KILLED.

    Raises
    ------
    TrackingError
        If MLflow cannot be searched or updated.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.errors import TrackingError, first_line
    from pipeline.settings import stale_run_timeout

    timeout = timeout or stale_run_timeout()
    client = mlflow.MlflowClient()
    host, now = socket.gethostname(), dt.datetime.now(dt.UTC)
    reaped: list[ReapedRun] = []
    try:
        experiment_ids: list[str] = []
        token = None
        for _ in range(_MAX_PAGES):
            experiments = client.search_experiments(max_results=_PAGE, page_token=token)
            experiment_ids.extend(e.experiment_id for e in experiments)
            token = experiments.token
            if not token:
                break
        if not experiment_ids:
            return []
        candidates: list[ReapedRun] = []
        token = None
        for _ in range(_MAX_PAGES):  # collect first: updating while paging would shift the pages
            page = client.search_runs(
                experiment_ids, "attributes.status = 'RUNNING'", max_results=_PAGE, page_token=token
            )
            for run in page:
                reason = stale_reason(run.data.tags, run.info.start_time, host=host, now=now, timeout=timeout)
                if reason is not None:
                    candidates.append(ReapedRun(run.info.run_id, run.info.experiment_id, reason))
            token = page.token
            if not token:
                break
        for run in candidates:
            if client.get_run(run.run_id).info.status != "RUNNING":
                continue
            client.set_tag(run.run_id, T.STATUS, "killed")
            client.set_tag(run.run_id, T.REAPED_BY, run.reason)
            client.set_terminated(run.run_id, status="KILLED")
            reaped.append(run)
    except MlflowException as exc:
        raise TrackingError(f"reap stale MLflow runs: {first_line(exc)}") from exc
    for run in reaped:
        logger.info("marked stale MLflow run %s KILLED: %s", run.run_id, run.reason)
    return reaped
