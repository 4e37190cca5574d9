"""(e) Training on CPU versus CUDA: the same model, the same data, ``device: cpu`` and ``device: cuda``.

Features of synthetic minute bars (``benchmarks/synthetic.py``), binary 5-bar target, chronological split,
``pipeline.training.train_model`` with a fixed number of rounds (early stopping effectively off), once
with ``model.device = cpu`` and once with ``cuda``. ``train_model`` resolves the device itself and says
which one it really used: without a visible GPU, ``cuda`` falls back to the CPU and the table says so.

Usage::

    .venv/bin/python benchmarks/device.py --bars 500000 --rounds 300 --repeats 3 --json benchmarks/results/device.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, summarise, table, time_call, write_json
from synthetic import minute_bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args()

    from pipeline.config._models import ExperimentConfig
    from pipeline.features import FeaturePipeline
    from pipeline.split import build_dataset
    from pipeline.training import train_model
    from pipeline.training.device import gpu_visible

    base = ExperimentConfig.model_validate(
        {
            "name": "bench-device",
            "hypothesis": "benchmark only",
            "data": {
                "source": "sample",
                "symbol": "SYN",
                "timeframe": "1m",
                "start": "2020-01-01",
                "end": "2022-01-01",
            },
            "target": {"kind": "binary", "holding_period": 5},
            "model": {
                "num_boost_round": args.rounds,
                "early_stopping_rounds": args.rounds,
                "params": {"max_depth": args.max_depth},
            },
        }
    )
    bars = minute_bars(args.bars)
    matrix, _ = FeaturePipeline.from_config(base.features, "equity").fit_transform(bars)
    dataset = build_dataset(bars, matrix, base)
    visible, why = gpu_visible()

    results: dict = {
        "machine": machine_info(),
        "gpu_visible": visible,
        "gpu_info": why,
        "rows": {"train": len(dataset.train), "validation": len(dataset.validation)},
        "features": matrix.shape[1],
        "rounds": args.rounds,
        "max_depth": args.max_depth,
        "devices": {},
    }
    rows = []
    for device in args.devices:
        config = base.model_copy(update={"model": base.model.model_copy(update={"device": device})})
        times, model = time_call(lambda config=config: train_model(dataset, config), repeats=args.repeats, warmup=1)
        st = summarise(times)
        results["devices"][device] = {
            "times": st,
            "used": model.device,
            "reason": model.device_reason,
            "rounds_trained": model.booster.num_boosted_rounds(),
            "val_metrics": model.val_metrics,
        }
        rows.append(
            [device, model.device, st["median"], st["best"], model.booster.num_boosted_rounds(), model.device_reason]
        )
    if "cpu" in results["devices"] and "cuda" in results["devices"]:
        cuda = results["devices"]["cuda"]
        results["speedup_cuda_vs_cpu"] = (
            results["devices"]["cpu"]["times"]["median"] / cuda["times"]["median"] if cuda["used"] == "cuda" else None
        )

    print("\n=== (e) train_model on CPU vs CUDA ===")
    print(
        f"{len(dataset.train):,} train rows x {matrix.shape[1]} features, {args.rounds} rounds, "
        f"depth {args.max_depth}; GPU visible: {visible} ({why})"
    )
    print(table(rows, ["requested", "used", "median s", "best s", "rounds", "device reason"]))
    if results.get("speedup_cuda_vs_cpu"):
        print(f"CUDA speed-up over CPU (median): {results['speedup_cuda_vs_cpu']:.2f}x")
    else:
        print("No GPU was used: the cuda row trained on the CPU (see reason); no speed-up to report.")
    write_json(args.json, results)


if __name__ == "__main__":
    main()
