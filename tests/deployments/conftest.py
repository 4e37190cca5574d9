"""A real Prefect deployment stack, as a user runs it: `prefect server start`, `deployments/setup.sh`, a worker.

Session-scoped: one server (own PREFECT_HOME and database) and one `setup.sh` per test process, shared by the
modules that need them (each triggers its own deployments on its own work pool); each module starts its own
process worker. quantgate's tables and MLflow are on the session's PostgreSQL databases. Every wait has a
deadline; every process started here is stopped (with its process group) at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, _create_database, _drop_database

BIN = Path(sys.executable).parent
SERVER_START_DEADLINE_S = 180
RUN_DEADLINE_S = 420
# A PATH without the venv: setup.sh must find Prefect by itself.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started with its own session, and everything it started."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass(frozen=True)
class PrefectStack:
    """Where the test's Prefect server listens, and the environment its clients use."""

    api_url: str
    env: dict[str, str]
    logs: Path

    def api(self) -> httpx.Client:
        """An HTTP client for the server's REST API (every call has a deadline)."""
        return httpx.Client(base_url=self.api_url, timeout=60)

    def prefect(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the venv's `prefect` CLI against this server, from the repo root."""
        return subprocess.run(
            [str(BIN / "prefect"), *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def wait_for_run(self, flow_run_id: str, deadline_s: float = RUN_DEADLINE_S) -> dict:
        """Poll a flow run until it is final; return it (fail with the worker's log tail on timeout)."""
        end = time.monotonic() + deadline_s
        with self.api() as client:
            while time.monotonic() < end:
                try:
                    run = client.get(f"/flow_runs/{flow_run_id}").raise_for_status().json()
                except httpx.TimeoutException:  # a busy SQLite server can stall a read; the deadline still holds
                    continue
                if run["state"] and run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                    return run
                time.sleep(1)
        tail = _tail(self.logs / "worker.log")
        pytest.fail(f"flow run {flow_run_id} not final after {deadline_s}s; worker log:\n{tail}")


@pytest.fixture(scope="session")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """`prefect server start` on a free port with its own PREFECT_HOME and its own PostgreSQL database (as a
    team runs it; SQLite locks under a worker's load on 2 cores); the scheduler looks every second."""
    root = tmp_path_factory.mktemp("prefect")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    database, database_url = _create_database("qg_prefect_test")
    env = {
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url.replace("postgresql+psycopg://", "postgresql+asyncpg://"),
        "PATH": BARE_PATH,
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PREFECT_HOME": str(root / "prefect_home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        # one upcoming run per schedule: a short test interval does not queue a backlog for the worker
        "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "1",
    }
    for var in ("QUANTGATE_TEST_PG_ADMIN_URL", "QUANTGATE_GATE_POLICY"):  # the suite's lenient test policy
        if var in os.environ:
            env[var] = os.environ[var]
    logs = root / "logs"
    logs.mkdir()
    with (logs / "server.log").open("w") as log:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = PrefectStack(api_url, env, logs)
    try:
        end = time.monotonic() + SERVER_START_DEADLINE_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"prefect server exited with {server.returncode}:\n{_tail(logs / 'server.log')}")
            try:
                if httpx.get(f"{api_url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                pytest.fail(f"prefect server not healthy after {SERVER_START_DEADLINE_S}s")
            time.sleep(1)
        yield stack
    finally:
        _stop(server)
        _drop_database(database)


@pytest.fixture(scope="session")
def deployed(prefect_stack: PrefectStack) -> PrefectStack:
    """`deployments/setup.sh`, run with no venv on PATH, as the README says."""
    result = subprocess.run(
        ["bash", str(REPO / "deployments" / "setup.sh")],
        cwd=prefect_stack.logs,
        env=prefect_stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"setup.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return prefect_stack


@dataclass(frozen=True)
class Stores:
    """The databases deployed runs write to, and the folder their artifacts land in."""

    db_url: str
    mlflow_url: str
    artifacts: Path


def worker_stores(deployed: PrefectStack, pg_url: str, pg_mlflow_url: str, where: Path) -> tuple[Stores, dict]:
    """The PostgreSQL stores of a worker started in ``where`` (outside the checkout) and its environment, after
    `quantgate db init`: as the README says, both databases are created and migrated once, before workers share
    them."""
    stores = Stores(pg_url, pg_mlflow_url, where / "mlartifacts")
    env = {
        **deployed.env,
        "QUANTGATE_HOME": str(where / "home"),
        "QUANTGATE_DB_URL": pg_url,
        "MLFLOW_TRACKING_URI": pg_mlflow_url,
        "QUANTGATE_ARTIFACT_ROOT": stores.artifacts.as_uri(),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
    }
    init = subprocess.run(
        [str(BIN / "quantgate"), "db", "init"], cwd=where, env=env, capture_output=True, text=True, timeout=300
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return stores, env


def start_worker(env: dict, where: Path, pool: str, limit: int, log: Path) -> subprocess.Popen:
    """`prefect worker start --pool POOL --limit LIMIT` in ``where``, in its own session, logging to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--limit", str(limit)],
            cwd=where,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def worker(
    deployed: PrefectStack, pg_url: str, pg_mlflow_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    """`quantgate db init`, then a process worker on `quantgate-research`, started outside the checkout, on the
    PostgreSQL stores."""
    where = tmp_path_factory.mktemp("worker")
    stores, env = worker_stores(deployed, pg_url, pg_mlflow_url, where)
    process = start_worker(env, where, "quantgate-research", 3, deployed.logs / "worker.log")
    try:
        yield stores
    finally:
        _stop(process)
