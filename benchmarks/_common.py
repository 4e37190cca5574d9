"""Helpers shared by the benchmark scripts: timing, machine description, result tables and JSON.

Benchmarks are scripts run on demand (``python benchmarks/<name>.py``), never part of the test suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")

LIBRARIES = (
    "numpy",
    "pandas",
    "xgboost",
    "prefect",
    "mlflow",
    "great_expectations",
    "fastapi",
    "scikit-learn",
    "SQLAlchemy",
)


def single_core_env() -> None:
    """Limit BLAS/OpenMP pools to one thread and pin this process to CPU 0 (call before importing numpy)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {0})


def machine_info(extra_libraries: Iterable[str] = ()) -> dict[str, Any]:
    """Describe the machine: cores, memory, CPU model, load, Python and library versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_total = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name in (*LIBRARIES, *extra_libraries):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "mem_total": mem_total,
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
        "threads_env": {var: os.environ.get(var) for var in THREAD_VARS if os.environ.get(var)},
    }


def time_call(fn: Callable[[], Any], repeats: int = 3, warmup: int = 0) -> tuple[list[float], Any]:
    """Call ``fn`` ``warmup`` + ``repeats`` times; return the wall times of the timed calls and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def summarise(times: Sequence[float]) -> dict[str, float]:
    """Best, median and worst of a list of timings (seconds)."""
    return {
        "best": min(times),
        "median": statistics.median(times),
        "worst": max(times),
        "n": len(times),
        "all": list(times),
    }


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table (also valid GitHub markdown)."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e6:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.3f}"
        return f"{value:.4f}"
    return str(value)


def write_json(path: str | Path | None, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus the command line) as JSON when a path was given."""
    if not path:
        return
    payload = {"command": " ".join([Path(sys.executable).name, *sys.argv]), **payload}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nJSON written to {path}")


def git_commit() -> str:
    """The current commit (read-only ``git rev-parse``), or ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
