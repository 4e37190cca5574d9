"""(b) A sweep of 20 configs: ``quantgate sweep FOLDER --parallel 2`` versus ``--parallel 1``.

Generates 20 small experiment YAMLs (4 sample symbols x 5 holding periods, 50 boosting rounds, daily bars
2005-2012) into a temporary folder and times the ``quantgate sweep`` command as a subprocess (what a user
types). Each timed sweep gets its own empty QUANTGATE_HOME (so resumability skips nothing and every sweep
ingests the same bars); all share one temporary PREFECT_HOME that an untimed one-config sweep has already
migrated, so Prefect's one-time database migration is not in the numbers. Modes alternate per repeat.

Usage::

    .venv/bin/python benchmarks/sweep.py --repeats 1 --json benchmarks/results/sweep.json
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def run_sweep(folder: Path, parallel: int, home: Path, prefect_home: Path, timeout: int) -> tuple[float, int, str]:
    env = {
        **os.environ,
        "QUANTGATE_HOME": str(home),
        "PREFECT_HOME": str(prefect_home),
        "GIT_PYTHON_REFRESH": "quiet",
        "COLUMNS": "200",
    }
    for var in ("QUANTGATE_DB_URL", "MLFLOW_TRACKING_URI", "QUANTGATE_ARTIFACT_ROOT", "PREFECT_API_URL"):
        env.pop(var, None)
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    exe = shutil.which("quantgate", path=str(Path(sys.executable).parent)) or "quantgate"
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
    prefect_home = root / "prefect"

    warm_folder = root / "warmup"
    warm_folder.mkdir()
    shutil.copy(configs / "msft_h5.yaml", warm_folder)
    warm_s, rc, tail = run_sweep(warm_folder, 1, root / "home-warmup", prefect_home, args.timeout)
    if rc != 0:
        print(f"warm-up sweep failed (rc {rc}):\n{tail}")
        write_json(args.json, {"error": "warm-up sweep failed", "rc": rc, "output_tail": tail})
        sys.exit(1)

    samples: dict[int, list[float]] = {p: [] for p in args.parallel}
    tails: dict[int, str] = {}
    failures = []
    for r in range(args.repeats):
        for parallel in args.parallel:
            home = root / f"home-p{parallel}-r{r}"
            seconds, rc, tail = run_sweep(configs, parallel, home, prefect_home, args.timeout)
            tails[parallel] = tail
            if rc != 0:
                failures.append({"parallel": parallel, "repeat": r, "rc": rc, "output_tail": tail})
            samples[parallel].append(seconds)
            print(f"repeat {r + 1}: --parallel {parallel}: {seconds:.1f} s (rc {rc})", flush=True)

    stats = {p: summarise(ts) for p, ts in samples.items()}
    results = {
        "machine": machine_info(),
        "configs": len(SYMBOLS) * len(HOLDING_PERIODS),
        "warmup_one_config_s": warm_s,
        "sweeps": stats,
        "failures": failures,
        "output_tail": tails,
    }
    base = stats[min(stats)]["median"]
    rows = [
        [f"--parallel {p}", st["median"], st["best"], st["median"] / 20, base / st["median"]] for p, st in stats.items()
    ]
    print("\n=== (b) quantgate sweep of 20 configs ===")
    print(table(rows, ["mode", "median s", "best s", "s per config", "speed-up vs first"]))
    if failures:
        print(f"\n{len(failures)} sweep(s) exited non-zero; see output_tail in the JSON")
    print(f"\nlast output (--parallel {max(tails)}):\n{tails[max(tails)][-1500:]}")
    results["speedup"] = {p: base / st["median"] for p, st in stats.items()}
    write_json(args.json, results)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
