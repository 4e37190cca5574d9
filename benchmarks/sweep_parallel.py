"""A sweep of 20 configs: ``quantgate sweep FOLDER --parallel 2`` versus ``--parallel 1``, side by side.

Generates 20 small experiment YAMLs (4 sample symbols x 5 holding periods, 50 boosting rounds, daily bars
2005-2012) into a temporary folder and times the ``quantgate sweep`` command as a subprocess (what a user
types). Every sweep talks to one background Prefect server (``quantgate server start`` in a throw-away home,
passed as ``PREFECT_API_URL``), started and warmed by an untimed one-config sweep before the first timed
one, so neither Prefect's start-up nor its migrations are in the numbers. Each timed sweep gets its own
empty QUANTGATE_HOME (resumability and the sweep claims skip nothing; every sweep ingests the same bars).
Modes alternate within each repeat; the load average is recorded before and after every sweep (the
machine may be shared). ``--parallel N`` runs the items in N spawned worker processes that stay warm
across items (``flows/sweep.py``), so a sweep pays N workers' imports once, not once per item; the sweep's
own process ingests and quality-checks each dataset once while the workers start.

Besides wall time it records CPU seconds of the sweep (process and workers) and of the Prefect server, and
the machine's idle CPU seconds: when the machine is shared, wall time measures the other users, while
CPU-s / cores bounds what an idle machine could do (printed as the bound on the speed-up).

Usage::

    .venv/bin/python benchmarks/sweep_parallel.py --repeats 1 --json benchmarks/results/sweep_parallel.json
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, summarise, table, write_json

SYMBOLS = ("AAPL", "IBM", "MSFT", "GOOG")
HOLDING_PERIODS = (1, 2, 3, 5, 10)

TEMPLATE = """\
name: sweep-bench-{symbol_lower}-h{h}
hypothesis: benchmark config ({symbol}, {h}-bar binary target)
data: {{source: sample, symbol: {symbol}, timeframe: 1d, start: 2005-01-01, end: 2012-12-31}}
target: {{kind: binary, holding_period: {h}}}
model: {{device: cpu, num_boost_round: 50, early_stopping_rounds: 10, params: {{max_depth: 3, eta: 0.1}}}}
split: {{train: 0.6, validation: 0.2, test: 0.2}}
strategy: {{mode: long_flat, long_threshold: 0.5}}
costs: {{fee_bps: 1.0, slippage_bps: 2.0}}
registry: {{promote: false}}
"""


def write_configs(folder: Path) -> list[Path]:
    """Write the 20 YAMLs; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for symbol in SYMBOLS:
        for h in HOLDING_PERIODS:
            path = folder / f"{symbol.lower()}_h{h}.yaml"
            path.write_text(TEMPLATE.format(symbol=symbol, symbol_lower=symbol.lower(), h=h))
            paths.append(path)
    return paths


EXE = shutil.which("quantgate", path=str(Path(sys.executable).parent)) or "quantgate"


def base_env(home: Path) -> dict[str, str]:
    """This environment without quantgate/Prefect/MLflow settings, with ``home`` as QUANTGATE_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "QUANTGATE_"))}
    env.update({"QUANTGATE_HOME": str(home), "GIT_PYTHON_REFRESH": "quiet", "COLUMNS": "200"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python caches bytecode (as benchmarks/startup.py)
    if "QUANTGATE_GATE_POLICY" in os.environ:
        env["QUANTGATE_GATE_POLICY"] = os.environ["QUANTGATE_GATE_POLICY"]
    return env


def start_server(home: Path) -> str:
    """``quantgate server start`` under ``home``; return its API URL."""
    out = subprocess.run(
        [EXE, "server", "start"], capture_output=True, text=True, env=base_env(home), timeout=300, check=True
    )
    return out.stdout.split(": ", 1)[1].split(" ", 1)[0]


def stop_server(home: Path) -> None:
    subprocess.run([EXE, "server", "stop"], capture_output=True, env=base_env(home), timeout=60, check=False)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def children_cpu() -> float:
    """CPU seconds (user + sys) of every finished child process and its waited-for descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + sys) so far of the live processes in process group ``pgid`` (the Prefect server)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot (``/proc/stat``), all users included."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICK, idle / TICK


def run_sweep(folder: Path, parallel: int, home: Path, api_url: str, timeout: int) -> tuple[float, int, str]:
    env = {**base_env(home), "PREFECT_API_URL": api_url}
    exe = EXE
    t0 = time.perf_counter()
    out = subprocess.run(
        [exe, "sweep", str(folder), "--parallel", str(parallel)],
        capture_output=True, text=True, env=env, cwd=home.parent, timeout=timeout, check=False,
    )  # fmt: skip
    return time.perf_counter() - t0, out.returncode, (out.stdout + out.stderr)[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per sweep")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qg-bench-sweep-"))
    configs = root / "configs"
    write_configs(configs)
    server_home = root / "server-home"
    samples: dict[int, list[float]] = {p: [] for p in args.parallel}
    cpu: dict[int, list[float]] = {p: [] for p in args.parallel}
    server_cpu: dict[int, list[float]] = {p: [] for p in args.parallel}
    machine_idle: dict[int, list[float]] = {p: [] for p in args.parallel}
    loads: dict[int, list[tuple[float, float]]] = {p: [] for p in args.parallel}
    tails: dict[int, str] = {}
    failures = []
    try:
        api_url = start_server(server_home)
        server_pgid = int((server_home / "prefect-server" / "server.pid").read_text())  # a session leader
        print(f"background Prefect server: {api_url} (load {load()})", flush=True)
        warm_folder = root / "warmup"
        warm_folder.mkdir()
        shutil.copy(configs / "msft_h5.yaml", warm_folder)
        warm_s, rc, tail = run_sweep(warm_folder, 1, root / "home-warmup", api_url, args.timeout)
        if rc != 0:
            print(f"warm-up sweep failed (rc {rc}):\n{tail}")
            write_json(args.json, {"error": "warm-up sweep failed", "rc": rc, "output_tail": tail})
            sys.exit(1)
        for r in range(args.repeats):
            for parallel in args.parallel:
                home = root / f"home-p{parallel}-r{r}"
                before, cpu_before, server_before = load(), children_cpu(), group_cpu(server_pgid)
                idle_before = machine_cpu()[1]
                seconds, rc, tail = run_sweep(configs, parallel, home, api_url, args.timeout)
                cpu[parallel].append(children_cpu() - cpu_before)
                server_cpu[parallel].append(group_cpu(server_pgid) - server_before)
                machine_idle[parallel].append(machine_cpu()[1] - idle_before)
                loads[parallel].append((before, load()))
                tails[parallel] = tail
                if rc != 0:
                    failures.append({"parallel": parallel, "repeat": r, "rc": rc, "output_tail": tail})
                samples[parallel].append(seconds)
                print(
                    f"repeat {r + 1}: --parallel {parallel}: {seconds:.1f} s wall, {cpu[parallel][-1]:.1f} CPU-s "
                    f"+ Prefect server {server_cpu[parallel][-1]:.1f} CPU-s; machine idle "
                    f"{machine_idle[parallel][-1]:.1f} CPU-s (rc {rc}; load {before} -> {load()})",
                    flush=True,
                )
    finally:
        stop_server(server_home)

    stats = {p: summarise(ts) for p, ts in samples.items()}
    results = {
        "machine": machine_info(),
        "configs": len(SYMBOLS) * len(HOLDING_PERIODS),
        "warmup_one_config_s": warm_s,
        "sweeps": stats,
        "load_average_1min_before_after": loads,
        # CPU seconds of the sweep process and its workers, and of the Prefect server they talk to: on a busy
        # machine wall time mostly measures the other users; total CPU / cores bounds the wall time on an
        # idle one. machine_idle_cpu_s: idle CPU seconds of the whole machine during the sweep (0 = saturated)
        "cpu_s": cpu,
        "server_cpu_s": server_cpu,
        "machine_idle_cpu_s": machine_idle,
        "failures": failures,
        "output_tail": tails,
    }
    base = stats[min(stats)]["median"]
    rows = [
        [f"--parallel {p}", st["median"], st["best"], st["median"] / 20, base / st["median"]] for p, st in stats.items()
    ]
    print("\n=== quantgate sweep of 20 configs ===")
    print(table(rows, ["mode", "median s", "best s", "s per config", "speed-up vs first"]))
    if failures:
        print(f"\n{len(failures)} sweep(s) exited non-zero; see output_tail in the JSON")
    print(f"\nlast output (--parallel {max(tails)}):\n{tails[max(tails)][-1500:]}")
    results["speedup"] = {p: base / st["median"] for p, st in stats.items()}
    # With ``cores`` cores, a mode that needs C CPU-s (sweep + server) cannot finish faster than C / cores: the
    # first mode's wall time W bounds the speed-up of a mode at W * cores / C (C measured under the same load).
    cores = len(os.sched_getaffinity(0))
    first = min(stats)
    total = {p: statistics.median(c + s for c, s in zip(cpu[p], server_cpu[p], strict=True)) for p in stats}
    results["cpu_total_s"] = total
    results["speedup_bound_from_cpu"] = {p: base * cores / total[p] for p in stats}
    print(
        "\nCPU-s (sweep + Prefect server), median: "
        + ", ".join(f"--parallel {p}: {total[p]:.1f}" for p in stats)
        + f"; --parallel {first} used {total[first] / base:.2f} cores on average; on {cores} cores its {base:.1f} s "
        + "bound the speed-up at "
        + ", ".join(f"{results['speedup_bound_from_cpu'][p]:.2f}x (--parallel {p})" for p in stats if p != first)
    )
    write_json(args.json, results)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
