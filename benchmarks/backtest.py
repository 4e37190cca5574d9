"""(d) Backtest throughput on 1 M bars: quantgate's ``run_backtest`` versus vectorbt, same signals and costs.

Setup (chosen so that both engines compute the same thing): binary target, ``long_flat`` with
``long_threshold`` 0.5, ``holding_period`` 1, ``fixed`` size 1.0, costs fee 1 bp + slippage 2 bp charged
as a proportional cost on turnover (vectorbt: ``fees=0.0003``, no separate slippage). P(class 1) follows a
persistent regime (mean run ~2000 bars) so there are about a thousand round trips, not hundreds of thousands;
the two engines charge the entry fee slightly differently (quantgate: ``equity * (1 + r - c)``, vectorbt:
buys ``cash / (price * (1 + c))`` shares), a relative difference of about ``c * r`` per entry, so their
final equities agree to about 1e-4 here.
vectorbt gets a tz-naive index (its best case; see _vectorbt_side.py), quantgate the canonical UTC one.

quantgate runs in this (the project's) venv; vectorbt runs in ``benchmarks/.venv-vectorbt`` via a
subprocess on the same signals written to .npy files (create it with ``benchmarks/setup_vectorbt.sh``).
Both processes are pinned to CPU 0 with one BLAS/numba thread.

Target: quantgate at least as fast as vectorbt.

Usage::

    .venv/bin/python benchmarks/backtest.py --bars 1000000 --repeats 5 --json benchmarks/results/backtest.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import single_core_env

single_core_env()

from _common import REPO, machine_info, summarise, table, write_json  # noqa: E402
from synthetic import minute_bars  # noqa: E402

VBT_PYTHON = REPO / "benchmarks" / ".venv-vectorbt" / "bin" / "python"
FEE_BPS, SLIPPAGE_BPS = 1.0, 2.0


def regime_proba(n: int, seed: int = 5, mean_run: int = 2000, noise: float = 0.03):
    """P(class 1) per bar: a two-state Markov regime (mean run length ``mean_run``) plus noise, in (0, 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    switches = rng.random(n) < 1.0 / mean_run
    state = np.cumsum(switches) % 2
    p1 = np.where(state == 1, 0.62, 0.38) + rng.normal(0.0, noise, n)
    p1 = np.clip(p1, 0.01, 0.99)
    return np.column_stack([1.0 - p1, p1])


def bench_config():
    from pipeline.config._models import ExperimentConfig

    return ExperimentConfig.model_validate(
        {
            "name": "bench-backtest",
            "hypothesis": "benchmark only",
            "data": {
                "source": "sample",
                "symbol": "SYN",
                "timeframe": "1m",
                "start": "2020-01-01",
                "end": "2022-01-01",
            },
            "target": {"kind": "binary", "holding_period": 1},
            "strategy": {"mode": "long_flat", "long_threshold": 0.5},
            "sizing": {"method": "fixed", "fraction": 1.0},
            "costs": {"fee_bps": FEE_BPS, "slippage_bps": SLIPPAGE_BPS},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--noise",
        type=float,
        default=0.03,
        help="noise on P(class 1); 0.05 flips the signal far more often (~8k trades)",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run_backtest")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args()

    import numpy as np

    from pipeline.backtest import run_backtest

    bars = minute_bars(args.bars)
    proba = regime_proba(len(bars), noise=args.noise)
    config = bench_config()
    periods_per_year = 365 * 24 * 60.0

    run_backtest(bars.iloc[:1000], proba[:1000], config, periods_per_year)  # warm-up
    times = []
    result = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = run_backtest(bars, proba, config, periods_per_year)
        times.append(time.perf_counter() - t0)
    qg_total = result.metrics["total_return"]
    qg_trades = len(result.trades)

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run_backtest(bars, proba, config, periods_per_year)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)

    vbt: dict | None = None
    vbt_error = None
    if VBT_PYTHON.exists():
        side = (proba[:, 1] >= config.strategy.long_threshold).astype("float64")
        with tempfile.TemporaryDirectory(prefix="qg-bench-vbt-") as tmp:
            np.save(Path(tmp) / "close.npy", bars["close"].to_numpy())
            np.save(Path(tmp) / "side.npy", side)
            env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
            fees = (FEE_BPS + SLIPPAGE_BPS) / 1e4
            out = subprocess.run(
                [
                    "taskset",
                    "-c",
                    "0",
                    str(VBT_PYTHON),
                    str(REPO / "benchmarks" / "_vectorbt_side.py"),
                    tmp,
                    str(fees),
                    str(args.repeats),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        if out.returncode == 0:
            vbt = json.loads(out.stdout.strip().splitlines()[-1])
        else:
            vbt_error = out.stderr.strip()[-2000:]
    else:
        vbt_error = f"{VBT_PYTHON} not found: run benchmarks/setup_vectorbt.sh"

    qg = summarise(times)
    results = {
        "machine": machine_info(),
        "bars": len(bars),
        "setup": {
            "noise": args.noise,
            "strategy": "long_flat 0.5",
            "holding_period": 1,
            "sizing": "fixed 1.0",
            "fee_bps": FEE_BPS,
            "slippage_bps": SLIPPAGE_BPS,
        },
        "quantgate": {
            "times": qg,
            "total_return": qg_total,
            "n_trades": qg_trades,
            "bars_per_s_best": len(bars) / qg["best"],
        },
        "vectorbt": vbt,
        "vectorbt_error": vbt_error,
    }

    print("\n=== (d) backtest throughput: quantgate run_backtest vs vectorbt Portfolio.from_signals ===")
    rows = [
        [
            "quantgate run_backtest (positions, returns, trades, 13 metrics)",
            qg["median"],
            qg["best"],
            len(bars) / qg["best"] / 1e6,
            qg_total,
            qg_trades,
        ],
    ]
    if vbt:
        rows += [
            ["vectorbt from_signals + total_return, first call (numba JIT)", vbt["first_call_s"], "", "", "", ""],
            [
                "vectorbt from_signals + total_return, warm",
                vbt["warm_s"]["median"],
                vbt["warm_s"]["best"],
                len(bars) / vbt["warm_s"]["best"] / 1e6,
                vbt["total_return"],
                vbt["n_trades"],
            ],
            [
                "vectorbt from_signals + stats(), warm",
                vbt["with_stats_s"]["median"],
                vbt["with_stats_s"]["best"],
                len(bars) / vbt["with_stats_s"]["best"] / 1e6,
                "",
                "",
            ],
        ]
    print(table(rows, ["engine", "median s", "best s", "M bars/s (best)", "total return", "trades"]))
    if vbt:
        diff = abs(qg_total - vbt["total_return"])
        rel = diff / max(1e-12, abs(1.0 + vbt["total_return"]))
        speedup = vbt["warm_s"]["best"] / qg["best"]
        results["comparison"] = {
            "total_return_abs_diff": diff,
            "final_equity_rel_diff": rel,
            "agree": rel < 1e-3,
            "speedup_vs_vectorbt_warm": speedup,
            "speedup_vs_vectorbt_with_stats": vbt["with_stats_s"]["best"] / qg["best"],
            "target_met": speedup >= 1.0,
        }
        c = results["comparison"]
        print(
            f"\ntotal returns: quantgate {qg_total:.6f}, vectorbt {vbt['total_return']:.6f}; final equity relative "
            f"difference {rel:.2e} -> {'AGREE' if c['agree'] else 'DISAGREE'} (tolerance 1e-3)"
        )
        print(
            f"speed: quantgate / vectorbt (best of {args.repeats}, warm) = {speedup:.2f}x "
            f"({c['speedup_vs_vectorbt_with_stats']:.2f}x against vectorbt incl. stats()); "
            f"target quantgate >= vectorbt: {'MET' if c['target_met'] else 'MISSED'}"
        )
    else:
        print(f"\nvectorbt not run: {vbt_error}")
    write_json(args.json, results)


if __name__ == "__main__":
    main()
