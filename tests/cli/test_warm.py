"""The warm runner: `quantgate run` forked from a preloaded process, identical to an in-process run, or not used.

Real processes throughout: `quantgate server start` (Prefect server + runner) in a throw-away home, `quantgate
run` as a user types it, compared with the same command under ``QUANTGATE_WARM=0`` (always in-process).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
QUANTGATE = str(Path(sys.executable).with_name("quantgate"))
CONFIG = "experiments/msft_protect.yaml"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("warm") / "home"
    env = _env(home)
    with _source_lock(alone=False):  # the runner fingerprints the sources as it starts
        started = subprocess.run([QUANTGATE, "server", "start"], cwd=REPO, env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    try:
        assert "warm runner ready" in _log(home)
        yield home
    finally:
        subprocess.run([QUANTGATE, "server", "stop"], cwd=REPO, env=env, capture_output=True, check=False)


@pytest.fixture(autouse=True)
def source_files_unchanged(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test holds a shared lock; the test that "edits" a source file holds it alone.

    Every runner checks the same source files, so under xdist another worker's runner would see the edit.
    """
    with _source_lock(alone=request.node.name.startswith("test_run_when_code_changed")):
        yield


@contextlib.contextmanager
def _source_lock(alone: bool) -> Iterator[None]:
    with open(Path(os.environ.get("TMPDIR", "/tmp")) / "quantgate-warm-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "QUANTGATE_"))}
    env.update(QUANTGATE_HOME=str(home), **extra)
    return env


def _log(home: Path) -> str:
    return (home / "prefect-server" / "runner.log").read_text()


def _served(home: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"served: pid (\d+)", _log(home))]


def _quantgate(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QUANTGATE, *args], cwd=REPO, env=_env(home, **extra), capture_output=True, text=True, timeout=600
    )


def _same(text: str) -> str:
    return re.sub(r"[0-9a-f]{32}", "<run id>", text)


def test_run_via_runner_when_good_config_matches_in_process_run(home: Path) -> None:
    _quantgate(home, "run", CONFIG)  # ingests the bars once
    before = len(_served(home))

    warm = _quantgate(home, "run", CONFIG)
    served = _served(home)
    cold = _quantgate(home, "run", CONFIG, QUANTGATE_WARM="0")

    assert len(served) == before + 1  # the runner forked a child for it
    assert warm.returncode == cold.returncode
    assert _same(warm.stdout) == _same(cold.stdout) and "mlflow   run" in warm.stdout
    assert len(_served(home)) == before + 1  # QUANTGATE_WARM=0 ran in-process


def test_run_via_runner_when_file_missing_prints_the_same_one_line_error(home: Path) -> None:
    before = len(_served(home))
    warm = _quantgate(home, "run", "experiments/no-such-file.yaml")
    cold = _quantgate(home, "run", "experiments/no-such-file.yaml", QUANTGATE_WARM="0")

    assert len(_served(home)) == before + 1
    assert warm.returncode == cold.returncode != 0
    assert warm.stderr == cold.stderr and warm.stdout == cold.stdout
    assert warm.stderr.startswith("error: ") and warm.stderr.count("\n") == 1


def test_run_when_import_environment_differs_runs_in_process(home: Path) -> None:
    before = len(_served(home))
    result = _quantgate(home, "run", "experiments/no-such-file.yaml", MLFLOW_TRACKING_URI="sqlite:///elsewhere.db")

    assert result.returncode != 0 and result.stderr.startswith("error: ")
    assert len(_served(home)) == before
    assert _log(home).rstrip().endswith("refused: environment differs")


@pytest.mark.parametrize("after_s", [0.0, 1.0], ids=["while-the-child-starts", "in-the-run"])
def test_run_when_interrupted_forwards_ctrl_c_to_the_child(home: Path, after_s: float) -> None:
    before = len(_served(home))
    client = subprocess.Popen(
        [QUANTGATE, "run", CONFIG], cwd=REPO, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    child = _wait_for_child(home, before)
    time.sleep(after_s)
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=120)

    assert client.returncode == 130 and err.splitlines()[-1].startswith("error: interrupted"), err
    assert _gone(child)


def test_run_when_client_is_killed_ends_its_child(home: Path) -> None:
    before = len(_served(home))
    client = subprocess.Popen(
        [QUANTGATE, "run", CONFIG], cwd=REPO, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    child = _wait_for_child(home, before)
    client.kill()
    client.wait(timeout=30)

    assert _gone(child)


def test_run_when_code_changed_runs_in_process_and_runner_restarts(home: Path) -> None:
    source = REPO / "quantgate" / "cli" / "warm.py"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # "edited"
    try:
        before = len(_served(home))
        result = _quantgate(home, "run", "experiments/no-such-file.yaml")

        assert result.returncode != 0 and result.stderr.startswith("error: ")
        assert len(_served(home)) == before
        assert "refused: code changed since the runner started" in _log(home)
        deadline = time.monotonic() + 120
        while _log(home).count("warm runner ready") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        again = _quantgate(home, "run", "experiments/no-such-file.yaml")  # the restarted runner serves again
        assert again.stderr == result.stderr and len(_served(home)) == before + 1
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_server_stop_when_runner_runs_stops_it(home: Path) -> None:
    pid = int((home / "prefect-server" / "runner.pid").read_text())

    stopped = _quantgate(home, "server", "stop")

    assert stopped.returncode == 0
    assert _gone(pid)
    assert not (home / "prefect-server" / "runner.sock").exists()
    assert not (home / "prefect-server" / "runner.pid").exists()


def _wait_for_child(home: Path, before: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        served = _served(home)
        if len(served) > before:
            return served[-1]
        time.sleep(0.1)
    raise AssertionError("the runner served no child")


def _gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"):
            return True
        time.sleep(0.1)
    return False
