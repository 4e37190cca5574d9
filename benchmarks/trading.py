"""(t) Paper trading: per-cycle latency (bar in the store -> order recorded at the paper broker) and replay
throughput, measured by replaying a trading file's Production model with the real cycle.

Needs a promoted model: run an experiment that promotes it first (e.g. ``quantgate run
experiments/goog_binary_long_flat.yaml``), then::

    .venv/bin/python benchmarks/trading.py deployments/trading/goog_paper.yaml --start 2011-01-01 --end 2012-12-31

Targets (issue 11): cycle p99 <= 50 ms with the model warm on 2 cores; replay throughput reported in bars/s.
The first 10 bars are replayed once before measuring, so the model is pinned and imports are done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trading_file")
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat)
    args = parser.parse_args()

    from pipeline.execution.replay import replay
    from pipeline.execution.trading_file import load_trading_file

    trading = load_trading_file(args.trading_file)
    replay(trading, args.start, args.start + dt.timedelta(days=14))  # warm: model pinned, imports done
    report = replay(trading, args.start, args.end)
    print(json.dumps({"bars": report.bars, "orders": report.orders, **report.timing()}, indent=2))


if __name__ == "__main__":
    main()
