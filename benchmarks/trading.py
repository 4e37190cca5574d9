"""(t) Paper trading: latency from a bar being in the store to an order at the paper broker (model warm),
and replay throughput, both through the real cycle of a trading file's Production model.

Needs a promoted model: run an experiment that promotes it first (e.g. ``quantgate run
experiments/goog_binary_long_flat.yaml``), then::

    .venv/bin/python benchmarks/trading.py deployments/trading/goog_paper.yaml --start 2011-01-01 --end 2012-12-31

* **latency**: ``trade_once`` (what ``quantgate trade --once`` and the deployed flow's tasks do: resolve the
  Production alias, read the trailing window from the store, check its bars' quality verdicts, features,
  predict, the shared rule, risk, ledger write, submit) for ``--cycles`` consecutive closed bars at the end of the
  window, on a throw-away strategy with its own paper account. The first ``--warm`` cycles are not counted
  (model pinned, imports done). p50/p99 in ms. Target (issue 11): p99 <= 50 ms on 2 cores. ``by_kind``
  splits the cycles: ``decision`` bars (features + prediction, every ``holding_period``-th bar since the
  anchor) or ``held`` ones, ``+order`` when an order was sent.
* **core**: the same cycles without the ingest check and the quality verdicts: the trailing window read from
  the store, the alias lookup, ``run_cycle`` (reconcile, predict at decision bars, rule, risk, ledger, submit).
* **replay**: ``replay`` over ``[start, end]``: bars/s of the whole replay (cycles plus the backtest
  comparison) and of the cycles alone.
* **ingest_quality**: the quality suite where bars enter the store (the ingest flows, the experiment's
  quality stage): the last ``--ingest-bars`` bars validated one new bar at a time with their context,
  recording the per-bar verdicts (:mod:`pipeline.quality.verdicts`) that the cycle then only checks.
  Runs first, so the measured cycles find every bar of their window with a verdict, as after ingestion.
* ``--profile``: a cProfile (CPU time) of the measured cycles (top functions by cumulative time) on stderr.

Prints one JSON object, with the 1-minute load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import sys
import time
import uuid

import numpy as np


def _latency(trading, start: dt.date, end: dt.date, cycles: int, warm: int, profile: bool) -> dict:
    import pandas as pd

    from pipeline.execution.cycle import resolve_model
    from pipeline.execution.runner import trade_once
    from pipeline.experiment.data import load_experiment_bars
    from pipeline.timeframes import bar_length

    model = resolve_model(trading)
    data = model.config.data.model_copy(update={"end": end})
    bars = load_experiment_bars(data).bars
    closes = [ts + bar_length(data.timeframe) for ts in bars.index[-(cycles + warm) :]]
    strategy = trading.model_copy(update={"name": f"bench-{uuid.uuid4().hex[:8]}", "start": start})
    seconds, cpu_seconds, sent, kinds = [], [], 0, []
    since_anchor = bars.index[bars.index >= pd.Timestamp(start, tz="UTC")]
    holding = model.config.target.holding_period
    profiler = cProfile.Profile(time.process_time)
    for i, close in enumerate(closes):
        now = pd.Timestamp(close).to_pydatetime()
        measured = i >= warm
        if measured and profile:
            profiler.enable()
        began, cpu = time.perf_counter(), time.process_time()
        result = trade_once(strategy, now, track=False)  # to the order; the MLflow step comes after
        elapsed, used = time.perf_counter() - began, time.process_time() - cpu
        if measured and profile:
            profiler.disable()
        if measured:
            seconds.append(elapsed)
            cpu_seconds.append(used)
            ordered = sum(1 for o in result.orders if o.status.value != "DENIED")
            sent += ordered
            decision = since_anchor.get_loc(pd.Timestamp(close) - bar_length(data.timeframe)) % holding == 0
            kinds.append(("decision" if decision else "held") + ("+order" if ordered else ""))
    if profile:
        _print_profile(profiler, "latency")
    by_kind = {}
    for kind in sorted(set(kinds)):
        picked = [j for j, k in enumerate(kinds) if k == kind]
        by_kind[kind] = {
            "cycles": len(picked),
            **_percentiles([seconds[j] for j in picked], [cpu_seconds[j] for j in picked]),
        }
    return {"cycles": len(seconds), "orders_sent": sent, **_percentiles(seconds, cpu_seconds), "by_kind": by_kind}


def _percentiles(seconds: list[float], cpu_seconds: list[float]) -> dict:
    """Wall and CPU-time (this process, all threads) p50/p99/max in ms: on a loaded machine the CPU time is
    what the cycle itself costs, the wall time includes waiting for a core."""
    wall, cpu = np.asarray(seconds) * 1000, np.asarray(cpu_seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 2),
        "p99_ms": round(float(np.percentile(wall, 99)), 2),
        "max_ms": round(float(wall.max()), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2),
    }


def _print_profile(profiler: cProfile.Profile, what: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats("/pipeline/|sqlalchemy/engine/base.py|mlflow/tracking/client.py", 50)
    print(f"--- profile: {what}\n{out.getvalue()}", file=sys.stderr)


def _core(trading, start: dt.date, end: dt.date, cycles: int, warm: int, profile: bool) -> dict:
    """Store read of the trailing window -> alias lookup -> run_cycle (no ingest check, no quality suite)."""
    import pandas as pd

    from pipeline.execution.cycle import resolve_model, run_cycle
    from pipeline.execution.runner import open_session
    from pipeline.store import BarStore
    from pipeline.timeframes import bar_length

    model = resolve_model(trading)
    data, costs = model.config.data, model.config.costs
    store = BarStore()
    everything = store.load(data.symbol, data.timeframe, end=pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1))
    closes = [ts + bar_length(data.timeframe) for ts in everything.index[-(cycles + warm) :]]
    strategy = trading.model_copy(update={"name": f"core-{uuid.uuid4().hex[:8]}", "start": start})
    session = open_session(strategy, timeframe=data.timeframe, fee_bps=costs.fee_bps, slippage_bps=costs.slippage_bps)
    first = pd.Timestamp(start, tz="UTC") - pd.Timedelta(days=int(model.history_bars * 1.6) + 1)
    seconds, cpu_seconds = [], []
    profiler = cProfile.Profile(time.process_time)
    for i, close in enumerate(closes):
        now = pd.Timestamp(close).to_pydatetime()
        if i >= warm and profile:
            profiler.enable()
        began, cpu = time.perf_counter(), time.process_time()
        pinned = resolve_model(strategy)
        window = store.load(data.symbol, data.timeframe, first, now)
        run_cycle(session, now, {data.symbol: window}, pinned, data.timeframe, pinned.asset_class)
        if i >= warm:
            seconds.append(time.perf_counter() - began)
            cpu_seconds.append(time.process_time() - cpu)
            profiler.disable()
    if profile:
        _print_profile(profiler, "core")
    return {"cycles": len(seconds), **_percentiles(seconds, cpu_seconds)}


def _ingest_quality(trading, end: dt.date, bars_count: int) -> dict:
    """The quality step where bars enter the store: the last ``bars_count`` bars validated one new bar at a
    time (with its context), as the ingest flows and the experiment's quality stage record the verdicts the
    cycle then only checks. Starts from no recorded verdict for the series (the file is removed)."""
    from pipeline.execution.cycle import resolve_model
    from pipeline.experiment.data import load_experiment_bars
    from pipeline.quality.verdicts import check_window, verdict_path

    model = resolve_model(trading)
    data = model.config.data.model_copy(update={"end": end})
    bars = load_experiment_bars(data).bars
    series = {"symbol": data.symbol, "timeframe": data.timeframe, "asset_class": model.asset_class}
    verdict_path(**series).unlink(missing_ok=True)
    check_window(bars.iloc[:-bars_count], **series, what="benchmark")  # the history before: validated whole
    seconds, cpu_seconds, validated = [], [], []
    for upto in range(len(bars) - bars_count + 1, len(bars) + 1):
        began, cpu = time.perf_counter(), time.process_time()
        validated.append(check_window(bars.iloc[:upto], **series, what="benchmark"))
        seconds.append(time.perf_counter() - began)
        cpu_seconds.append(time.process_time() - cpu)
    return {
        "new_bars": len(seconds),
        "bars_validated_each": int(np.median(validated)),
        **_percentiles(seconds, cpu_seconds),
    }


def _replay(trading, start: dt.date, end: dt.date) -> dict:
    from pipeline.execution.replay import replay

    began = time.perf_counter()
    report = replay(trading, start, end)
    wall = time.perf_counter() - began
    timing = report.timing()
    return {
        "bars": report.bars,
        "orders": report.orders,
        "positions_match": report.positions_match,
        "wall_s": round(wall, 2),
        "bars_per_s": round(report.bars / wall, 1),
        "cycle_bars_per_s": round(timing["bars_per_s"], 1),
        "cycle_p50_ms": round(timing["cycle_p50_s"] * 1000, 2),
        "cycle_p99_ms": round(timing["cycle_p99_s"] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trading_file")
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--cycles", type=int, default=200, help="measured --once cycles (default 200)")
    parser.add_argument("--warm", type=int, default=5, help="cycles run before measuring (default 5)")
    parser.add_argument("--ingest-bars", type=int, default=20, help="bars validated one at a time (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile (CPU time) of the measured cycles (stderr)")
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()

    from pipeline.execution.trading_file import load_trading_file
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    trading = load_trading_file(args.trading_file)
    load_before = os.getloadavg()[0]
    result: dict = {"cpus": os.cpu_count(), "load_avg_1m_before": round(load_before, 2)}
    result["ingest_quality"] = _ingest_quality(trading, args.end, args.ingest_bars)
    result["latency"] = _latency(trading, args.start, args.end, args.cycles, args.warm, args.profile)
    result["core"] = _core(trading, args.start, args.end, args.cycles, args.warm, args.profile)
    if not args.skip_replay:
        result["replay"] = _replay(trading, args.start, args.end)
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
