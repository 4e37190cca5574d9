"""The warm runner: `quantgate run` forked from a process that has already imported the experiment stack.

Importing Prefect, MLflow, SQLAlchemy, matplotlib and XGBoost costs a new `quantgate run` about 6 CPU-seconds
before any work. `quantgate server start` therefore also starts this runner (same lifecycle as the Prefect
server; ``runner.pid``, ``runner.sock`` and ``runner.log`` in ``$QUANTGATE_HOME/prefect-server/``). It
imports those modules once, starts no thread, and waits on a Unix socket.

A `quantgate run` (not ``--verbose``) hands itself to the runner when the socket answers, the environment
variables read at import (:func:`import_environment`) equal the runner's, and quantgate's source files are
unchanged since the runner started (:func:`code_fingerprint`). It sends argv, environment and working
directory plus its stdin/stdout/stderr; the runner forks; the child takes over the descriptors, directory and
environment, runs the same command, and sends the exit status back. SIGINT/SIGTERM of the client are
forwarded to the child; a child whose client disappears is terminated. Whenever the runner is missing,
refuses, or fails before the child starts, the command runs in-process exactly as without a runner.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.preload import EXPERIMENT_MODULES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "tasks", "flows", "quantgate")
IMPORT_PREFIXES = ("PREFECT_", "MLFLOW_", "QUANTGATE_", "PYTHON", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")
IMPORT_NAMES = ("DO_NOT_TRACK", "GIT_PYTHON_REFRESH", "TZ", "LANG", "LC_ALL", "VIRTUAL_ENV")
PRELOAD = ("quantgate.cli.summary", *EXPERIMENT_MODULES)
CONNECT_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 30.0  # a child that started after the client gave up ends itself (_end_when_client_leaves)


def runner_files() -> tuple[Path, Path, Path]:
    """``runner.pid``, ``runner.sock`` and ``runner.log`` beside the background Prefect server's files."""
    from quantgate.cli.server import server_dir

    folder = server_dir()
    return folder / "runner.pid", folder / "runner.sock", folder / "runner.log"


def import_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that libraries read when they are imported (must match the runner's)."""
    return {k: v for k, v in environ.items() if k.startswith(IMPORT_PREFIXES) or k in IMPORT_NAMES}


def code_fingerprint() -> list[Any]:
    """quantgate's source files (path, size, mtime), the interpreter and the environment (venv) in use."""
    files = []
    for package in PACKAGES:
        for folder, dirs, names in os.walk(ROOT / package):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in names:
                if name.endswith((".py", ".yaml")):
                    stat = os.stat(os.path.join(folder, name))
                    files.append([os.path.join(folder, name), stat.st_size, stat.st_mtime_ns])
    return [os.path.realpath(sys.executable), sys.prefix, sorted(files)]


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def _receive(sock: socket.socket, want_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One length-prefixed JSON message (and up to ``want_fds`` descriptors); None at end of stream."""
    buffer, fds = b"", []
    if want_fds:
        buffer, fds, _, _ = socket.recv_fds(sock, 1 << 20, want_fds)
    while len(buffer) < 4 or len(buffer) < 4 + struct.unpack("!I", buffer[:4])[0]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        buffer += chunk
    size = struct.unpack("!I", buffer[:4])[0]
    return json.loads(buffer[4 : 4 + size]), fds


# --- client -----------------------------------------------------------------------------------------------


def eligible(argv: list[str]) -> bool:
    """Whether ``quantgate <argv>`` may go to the runner: `run` without ``--verbose``, unless QUANTGATE_WARM=0."""
    if os.environ.get("QUANTGATE_WARM", "").strip() == "0" or not argv or argv[0] != "run":
        return False
    return not any(arg in ("-v", "--verbose") for arg in argv[1:])


def delegate(argv: list[str]) -> int | None:
    """Run ``quantgate <argv>`` in the warm runner; its exit status, or None to run in-process instead."""
    if not eligible(argv):
        return None
    _, sock_path, _ = runner_files()
    if not sock_path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(str(sock_path))
        request = {
            "argv": argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "import_env": import_environment(os.environ),
            "code": code_fingerprint(),
        }
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        _send(sock, request, [0, 1, 2])
        sock.settimeout(REPLY_TIMEOUT_S)
        reply, _ = _receive(sock)
        sock.settimeout(None)
    except OSError:
        sock.close()
        return None
    if not reply or not reply.get("ok"):
        sock.close()
        return None  # refused (environment or code differ, runner not ready): run in-process
    return _wait_for_child(sock, int(reply["pid"]))


def _wait_for_child(sock: socket.socket, pid: int) -> int:
    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    status: int | None = None
    with sock:
        while True:
            try:
                message, _ = _receive(sock)
            except InterruptedError:
                continue
            if message is None:  # the child has exited (its end of the socket closed)
                break
            status = int(message.get("exit", 1))
    if status is None:
        sys.stderr.write("error: the warm runner's child ended without an exit status\n")
        return 1
    return status


# --- runner -----------------------------------------------------------------------------------------------


def serve(sock_path: Path) -> None:
    """Import the experiment stack, then fork one child per request on ``sock_path`` (runs until killed)."""
    import gc

    from quantgate.cli._common import quiet_orchestration

    original_env = dict(os.environ)  # a restart (code changed) begins from the environment the runner got
    started_env = import_environment(os.environ)
    started_code = code_fingerprint()
    quiet_orchestration(verbose=False)  # as `quantgate run` does before importing Prefect
    api_url = os.environ.get("PREFECT_API_URL")
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()  # children's collections skip the preloaded objects (and do not copy their pages)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(16)
    print(f"warm runner ready: {sock_path} ({threading.active_count()} thread(s))", flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn, want_fds=3)
        except OSError:
            conn.close()
            continue
        if request is None or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        why = _refusal(request, started_env, started_code, api_url)
        if why is not None:
            print(f"refused: {why}", flush=True)
            with contextlib.suppress(OSError):
                _send(conn, {"ok": False, "why": why})
            for fd in fds:
                os.close(fd)
            conn.close()
            if why.startswith("code"):
                listener.close()
                os.execve(sys.executable, [sys.executable, "-m", "quantgate.cli.warm", str(sock_path)], original_env)
            continue
        child = os.fork()
        if child == 0:
            listener.close()
            _child(conn, fds, request)  # never returns
        print(f"served: pid {child} quantgate {' '.join(request['argv'])}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()


def _refusal(request: dict[str, Any], env: dict[str, str], code: list[Any], api_url: str | None) -> str | None:
    if threading.active_count() != 1:
        return f"the runner has {threading.active_count()} threads"
    if request.get("import_env") != env:
        return "environment differs"
    if request.get("code") != code:
        return "code changed since the runner started"
    from quantgate.cli.server import status

    running = status()
    if api_url is None or running is None or running.url != api_url:
        return "the Prefect server is not the one the runner was started with"
    return None


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
    """In the forked child: become the client's process, run its command, report the exit status."""
    from quantgate.cli._common import INTERRUPTED, catch_interrupts

    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        catch_interrupts()  # a command's Ctrl-C, as in `main`
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _reopen_stdio()
        _reseed()
        from quantgate.cli._common import reset_consoles

        reset_consoles()
        try:
            _send(conn, {"ok": True, "pid": os.getpid()})
        except OSError:
            os._exit(1)  # the client left (Ctrl-C, killed) before its command started: nothing to report
        threading.Thread(target=_end_when_client_leaves, args=(conn,), daemon=True).start()
        from quantgate.cli import app

        sys.argv = ["quantgate", *request["argv"]]
        try:
            app(args=request["argv"], prog_name="quantgate")
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:  # Ctrl-C before the command's own handler was reached, as `main` reports it
        with contextlib.suppress(Exception):
            sys.stderr.write(f"error: {INTERRUPTED}\n")
        status = 130
    except BaseException as exc:  # noqa: BLE001 - the child must report something
        with contextlib.suppress(Exception):
            sys.stderr.write(f"error: warm runner: {exc.__class__.__name__}: {exc}\n")
        status = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            _send(conn, {"exit": status})
        _log_child_cpu(request["argv"], status)
    sys.exit(status)  # atexit handlers (Prefect's event and log workers) run as in a normal process


def _log_child_cpu(argv: list[str], status: int) -> None:
    """One line in the runner's log: this child's CPU seconds (``benchmarks/startup.py`` reads it)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    with contextlib.suppress(OSError), runner_files()[2].open("a") as log:
        log.write(f"done: pid {os.getpid()} exit {status} cpu {usage.ru_utime + usage.ru_stime:.3f} s\n")


def _end_when_client_leaves(conn: socket.socket) -> None:
    """Terminate this child when its client goes away (killed): nothing runs on for nobody."""
    with contextlib.suppress(OSError):
        while conn.recv(1024):
            pass
    os.kill(os.getpid(), signal.SIGTERM)


def _reopen_stdio() -> None:
    """Text streams on descriptors 0-2 (now the client's), buffered as Python buffers them at start."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        encoding = getattr(old, "encoding", None) or "utf-8"
        errors = getattr(old, "errors", None) or "strict"
        if fd == 0:
            stream = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding, errors)
        else:
            raw = io.FileIO(fd, "w", closefd=False)
            line = fd == 2 or os.isatty(fd)
            buffer = raw if unbuffered else io.BufferedWriter(raw)
            stream = io.TextIOWrapper(buffer, encoding, errors, line_buffering=line, write_through=unbuffered)
        setattr(sys, name, stream)


def _reseed() -> None:
    """A forked child would repeat the runner's random streams: seed them anew, as a new process does."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def start(log: Path) -> int:
    """Start the runner in the background (its own session); its pid."""
    import subprocess

    pid_file, sock_path, _ = runner_files()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "quantgate.cli.warm", str(sock_path)],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def stop() -> int | None:
    """Stop the runner (and the children still running its commands); its pid, or None if none ran."""
    pid_file, sock_path, _ = runner_files()
    sock_path.unlink(missing_ok=True)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return None
    pid_file.unlink(missing_ok=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        return pid
    return None


def running_pid() -> int | None:
    """The runner's pid if it is alive, else None."""
    from quantgate.cli.server import _alive

    pid_file, _, _ = runner_files()
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
