"""Fast starts: a second ``quantgate run experiments/msft_protect.yaml`` in a new process vs a hand-written script.

Measured side by side in one run, alternating, in a throw-away QUANTGATE_HOME:

1. ``quantgate server start`` there (the background Prefect server, reused by every command), then one
   warm-up ``quantgate run`` (ingests the sample bars, creates the MLflow database).
2. ``--repeats`` times: ``quantgate run`` in a new process (wall time; served by the warm runner that
   ``server start`` started, checked in its log), the same with ``QUANTGATE_WARM=0`` (in-process, no runner)
   and ``benchmarks/hand_script.py`` in a new process (wall time). Medians and their ratios (target <= 4x).
3. Breakdown of a run: interpreter + ``import quantgate.cli``; ``import flows.experiment`` (prefect, mlflow,
   xgboost, the gate's statistics); the server's health round trip; the rest is the run's stages. Also
   ``import great_expectations`` alone, which a second run no longer pays (its passed quality report for
   the same bars is reused).
4. With ``--ephemeral``, also one run without the background server (Prefect's temporary server: the old way).

Each timed command also reports its CPU seconds (user + system of the child and its children), the
load-independent part on a shared machine. ``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment (this workplace's shells set it): Python then caches bytecode as it does for a user, so the
warm-up run compiles the project's modules once and the timed runs read them, as a user's second run does.

The server is stopped at the end, also on errors. Prints one JSON object; ``--json PATH`` writes it too.

Usage::

    .venv/bin/python benchmarks/startup.py --repeats 3 --ephemeral --json benchmarks/results/startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = "experiments/msft_protect.yaml"


CPU_S: list[float] = []  # CPU seconds of each timed() command, in call order


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run ``cmd``; return its wall seconds and stdout (its CPU seconds go to :data:`CPU_S`)."""
    cpu = _children_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - start
    CPU_S.append(_children_cpu_s() - cpu)
    if done.returncode not in (0, 1):  # 1: the gate refused the model, still a complete run
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ephemeral", action="store_true", help="Also time one run on a temporary server.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="qg-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "QUANTGATE_"))}
        env["QUANTGATE_HOME"] = str(Path(tmp) / "home")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python caches bytecode (see the module docstring)
        quantgate = [str(BIN / "quantgate")]
        result: dict = {"load_before": [round(x, 2) for x in load_before]}
        try:
            result["server_start_s"], out = timed([*quantgate, "server", "start"], env)
            url = out.split(": ", 1)[1].split(" ", 1)[0]
            result["warmup_run_s"], _ = timed([*quantgate, "run", CONFIG], env)
            runs, hand, hand_stages, runs_cpu, hand_cpu = [], [], [], [], []
            cold, cold_cpu, warm_cpu = [], [], []
            runner_log = Path(env["QUANTGATE_HOME"]) / "prefect-server" / "runner.log"
            for _ in range(args.repeats):
                served = runner_log.read_text().count("served: ") if runner_log.exists() else 0
                runs.append(timed([*quantgate, "run", CONFIG], env)[0])
                runs_cpu.append(CPU_S[-1])
                log = runner_log.read_text() if runner_log.exists() else ""
                if log.count("served: ") != served + 1:
                    raise SystemExit("the warm runner did not serve the run; see " + str(runner_log))
                warm_cpu.append(CPU_S[-1] + float(log.rsplit("done: ", 1)[1].split(" cpu ")[1].split()[0]))
                cold.append(timed([*quantgate, "run", CONFIG], {**env, "QUANTGATE_WARM": "0"})[0])
                cold_cpu.append(CPU_S[-1])
                seconds, out = timed([sys.executable, "benchmarks/hand_script.py"], env)
                hand.append(seconds)
                hand_cpu.append(CPU_S[-1])
                hand_stages.append(json.loads(out.strip().splitlines()[-1]))
            py = [sys.executable, "-c"]
            result["breakdown"] = {
                "python_and_import_quantgate_cli_s": timed([*py, "import quantgate.cli"], env)[0],
                "import_flows_experiment_s": timed([*py, "import quantgate.cli, flows.experiment"], env)[0],
                "python_bare_s": timed([*py, "pass"], env)[0],
                # not paid by a second run: a passed quality report is reused (pipeline/quality/cache.py)
                "import_great_expectations_alone_s": timed([*py, "import great_expectations"], env)[0],
            }
            start = time.perf_counter()
            with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
                response.read()
            result["breakdown"]["server_health_round_trip_s"] = time.perf_counter() - start
            result["quantgate_run_s"] = runs
            result["hand_script_s"] = hand
            result["hand_script_stages"] = hand_stages
            result["median_run_s"] = statistics.median(runs)
            result["median_hand_s"] = statistics.median(hand)
            result["ratio"] = result["median_run_s"] / result["median_hand_s"]
            result["quantgate_run_cpu_s (client + forked child)"] = warm_cpu
            result["hand_script_cpu_s"] = hand_cpu
            result["cpu_ratio"] = statistics.median(warm_cpu) / statistics.median(hand_cpu)
            result["no_runner_run_s"] = cold
            result["no_runner_run_cpu_s"] = cold_cpu
            result["no_runner_ratio"] = statistics.median(cold) / result["median_hand_s"]
            result["no_runner_cpu_ratio"] = statistics.median(cold_cpu) / statistics.median(hand_cpu)
            b = result["breakdown"]
            b["stages_and_tracking_s (median run - imports)"] = result["median_run_s"] - b["import_flows_experiment_s"]
        finally:
            subprocess.run([*quantgate, "server", "stop"], cwd=ROOT, env=env, capture_output=True, check=False)
        if args.ephemeral:
            result["ephemeral_server_run_s"], _ = timed([*quantgate, "run", CONFIG], env)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result = json.loads(json.dumps(result), parse_float=lambda s: round(float(s), 2))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
