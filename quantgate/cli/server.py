"""`quantgate server start|stop|status`: one local Prefect server in the background, reused by every command.

Without it, each `quantgate run`/`sweep` makes Prefect start a temporary API server (4-16 s) and stop it
again. The background server lives under ``$QUANTGATE_HOME/prefect-server/`` (``server.pid``, ``server.port``,
``server.log``) with its own Prefect database in ``$QUANTGATE_HOME/prefect-server/home`` (``PREFECT_HOME``).

Which API a command uses, first match wins:

1. ``PREFECT_API_URL`` set in the environment: used as is (a team server, a test harness).
2. A background server started by `quantgate server start` and still alive: used.
3. ``QUANTGATE_SERVER=auto``: the background server is started now and left running for the next command
   (stop it with `quantgate server stop`).
4. Otherwise Prefect's temporary server, as before (nothing is left running).

A pid file whose process is gone (a reboot, a kill) is stale: it is removed and reported as "not running".
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import typer

from quantgate.cli._common import console, one_line_errors

app = typer.Typer(help="A local Prefect server in the background, reused by every command (faster starts).")

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ServerState:
    """A background server that answers: its process id and API URL."""

    pid: int
    url: str


def server_dir() -> Path:
    """The folder holding the background server's pid, port, log files and Prefect home."""
    from pipeline.settings import home

    return home() / "prefect-server"


def _files() -> tuple[Path, Path, Path]:
    folder = server_dir()
    return folder / "server.pid", folder / "server.port", folder / "server.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    with contextlib.suppress(OSError):  # a zombie child of this process is not alive
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _clear() -> None:
    for path in _files():
        path.unlink(missing_ok=True)


def status() -> ServerState | None:
    """The running background server, or None (removing a stale pid file)."""
    pid_file, port_file, _ = _files()
    try:
        pid = int(pid_file.read_text().strip())
        port = int(port_file.read_text().strip())
    except (OSError, ValueError):
        if pid_file.exists() or port_file.exists():
            _clear()
        return None
    if not _alive(pid):
        _clear()
        return None
    return ServerState(pid, f"http://127.0.0.1:{port}/api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(port: int | None = None, timeout: float = START_TIMEOUT_S) -> ServerState:
    """Start the background server (or return the one running) and wait until its API answers."""
    from pipeline.errors import PlatformError

    running = status()
    if running is not None:
        _start_runner(wait=False)
        return running
    pid_file, port_file, log_file = _files()
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(server_dir() / "home"),
        PREFECT_API_URL=url,  # the UI calls this port, not :4200
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_API_URL=url,
    )
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives this command; stopped by `quantgate server stop`
        )
    pid_file.write_text(f"{process.pid}\n")
    port_file.write_text(f"{port}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _clear()
            raise PlatformError(f"prefect server exited with status {process.returncode}; see {log_file}")
        if _healthy(url):
            _start_runner(wait=False)
            return ServerState(process.pid, url)
        time.sleep(0.25)
    stop()
    raise PlatformError(f"prefect server did not answer at {url} within {timeout:.0f} s; see {log_file}")


def _start_runner(wait: bool, timeout: float = START_TIMEOUT_S) -> None:
    """Start the warm runner beside the server unless it runs (see warm.py); ``wait``: until it listens."""
    from quantgate.cli import warm

    _, sock_path, log = warm.runner_files()
    pid = warm.running_pid()
    if pid is None:
        pid = warm.start(log)
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid) and not sock_path.exists():
        time.sleep(0.1)


def stop(timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the background server (its whole process group) and the warm runner; the server's pid, or None."""
    from quantgate.cli import warm

    warm.stop()
    running = status()
    if running is None:
        return None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(running.pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(running.pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(running.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.pid, signal.SIGKILL)
    _clear()
    return running.pid


def use_background_server() -> str | None:
    """Point this process's Prefect client at the API to use (see the module doc); the URL, or None for
    Prefect's temporary server. Call before Prefect is imported."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    running = status()
    if running is None and os.environ.get("QUANTGATE_SERVER", "").strip().lower() == "auto":
        running = start()
    if running is None:
        return None
    os.environ["PREFECT_API_URL"] = running.url
    return running.url


@app.command("start")
@one_line_errors
def start_command(
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default: a free one)."),
) -> None:
    """Start the background Prefect server (no-op if it runs); later commands reuse it."""
    already = status()
    state = start(port)
    _start_runner(wait=True)  # the next `quantgate run` is the first one it serves
    verb = "already running" if already is not None else "started"
    console.print(f"prefect server {verb}: {state.url} (pid {state.pid}; log {_files()[2]})", highlight=False)


@app.command("stop")
@one_line_errors
def stop_command() -> None:
    """Stop the background Prefect server."""
    pid = stop()
    console.print("prefect server not running" if pid is None else f"prefect server stopped (pid {pid})")


@app.command("status")
@one_line_errors
def status_command() -> None:
    """Say whether the background Prefect server runs, and which API commands will use."""
    state = status()
    env_url = os.environ.get("PREFECT_API_URL")
    if state is None:
        console.print("prefect server not running", highlight=False)
    else:
        from quantgate.cli import warm

        healthy = "answering" if _healthy(state.url) else "NOT answering"
        console.print(f"prefect server running: {state.url} (pid {state.pid}, {healthy})", highlight=False)
        runner = warm.running_pid()
        ready = runner is not None and warm.runner_files()[1].exists()
        console.print(
            f"warm runner: {'ready' if ready else 'starting' if runner else 'not running'}"
            + (f" (pid {runner})" if runner else ""),
            highlight=False,
        )
    if env_url:
        from pipeline.settings import redact_url

        console.print(f"commands use PREFECT_API_URL={redact_url(env_url)} (set in the environment)", highlight=False)
    elif state is None:
        console.print("commands start Prefect's temporary server (slower); `quantgate server start` to reuse one")
