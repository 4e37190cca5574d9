"""Reaping RUNNING runs whose owner died: same host by process id, other hosts by heartbeat."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess

from mlflow import MlflowClient

from pipeline.tracking import reap_stale_runs, start_run
from pipeline.tracking import tags as T


def dead_pid() -> int:
    """A process id that existed a moment ago and is gone now (waited for, so not a zombie)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_reap_stale_runs_when_owners_are_dead_or_silent_kills_only_those(mlflow_uri: str) -> None:
    host = socket.gethostname()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).isoformat(timespec="seconds")
    fresh = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    owners = {
        "dead-here": {T.OWNER_PID: str(dead_pid()), T.OWNER_HOST: host, T.OWNER_HEARTBEAT: fresh},
        "alive-here": {T.OWNER_PID: str(os.getpid()), T.OWNER_HOST: host, T.OWNER_HEARTBEAT: old},
        "reused-pid-here": {T.OWNER_PID: str(os.getpid()), T.OWNER_HOST: host, T.OWNER_STARTED: "1"},
        "silent-elsewhere": {T.OWNER_PID: "1", T.OWNER_HOST: "another-host.invalid", T.OWNER_HEARTBEAT: old},
        "beating-elsewhere": {T.OWNER_PID: "1", T.OWNER_HOST: "another-host.invalid", T.OWNER_HEARTBEAT: fresh},
    }
    runs = {name: start_run("stale-tests", run_name=name, tags=tags).run_id for name, tags in owners.items()}
    finished = start_run("stale-tests", run_name="finished", tags=owners["dead-here"])
    finished.end("FINISHED")

    reaped = {r.run_id: r.reason for r in reap_stale_runs(dt.timedelta(hours=24))}

    client = MlflowClient()
    status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {
        "dead-here": "KILLED",
        "alive-here": "RUNNING",
        "reused-pid-here": "KILLED",
        "silent-elsewhere": "KILLED",
        "beating-elsewhere": "RUNNING",
    }
    assert client.get_run(finished.run_id).info.status == "FINISHED"
    assert set(reaped) == {runs["dead-here"], runs["reused-pid-here"], runs["silent-elsewhere"]}
    killed = client.get_run(runs["dead-here"]).data.tags
    assert killed[T.STATUS] == "killed" and "is gone" in killed[T.REAPED_BY]
    assert "no heartbeat from host another-host.invalid" in reaped[runs["silent-elsewhere"]]
    for name in ("alive-here", "beating-elsewhere"):
        client.set_terminated(runs[name], "FINISHED")  # the session's PostgreSQL store is shared
