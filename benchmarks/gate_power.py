"""Power and size of the gate: how often it passes series with a known signal, how often pure noise, and
whether leaky feature plugins are caught.

For each family of :mod:`synthetic` (noise with and without drift and fat tails, AR(1), volatility-linked
regime drift, strong regimes, short regimes, the weekday effect) and each seed, a SYNTHETIC daily series is
written as a CSV file; each hypothesis kind is pointed at it with ``data: {source: file}`` and its own
``gate:`` section removed, so the SHIPPED policy (``deployments/gate_policy.yaml``; ``QUANTGATE_GATE_POLICY``
is unset for the run) judges it. Kinds:

* ``protect``: ``experiments/msft_protect.yaml`` (stay long, step aside when the next 5 bars look bad),
  chronological 60/20/20 split: the test segment is the last 4 of 20 years.
* ``long_flat``: ``experiments/goog_binary_long_flat.yaml`` (long only when a >1 % 5-bar gain is expected).
* ``protect_wf``: the protect hypothesis, walk-forward: 6 two-year folds, each trained on the 5 years before
  it, pooled out of sample (12 years of test bars). The reasonable form of a regime hypothesis on 20 years.

Every run goes through the real flow (``experiment_flow``: ingest of the file, quality suite, features,
training, backtest, MLflow logging, leakage check, gate, registry), never a shortcut.

Modes (each in its own process and its own ``QUANTGATE_HOME``, so their trials never mix):

* ``single``: each experiment is its own run, as ``quantgate run`` does. Every (series, kind) has its own
  symbol, so no earlier run shares its data family: N = 1, the most lenient case for the deflated Sharpe.
* ``sweep``: the items of one family and kind are one sweep (``sweep_flow``, as ``quantgate sweep`` does),
  so each item's deflated Sharpe counts the sweep's planned configs as trials (N = number of seeds).
* ``leaks``: the protect kind plus one leaky plugin group (:data:`LEAKS`) on ``strong_regime`` series; the
  leak is caught when the gate's ``leakage`` rule fails (the cuts are the flow's own: random, seeded per
  run, plus the segment boundaries).

Each mode writes its rows as JSON; ``report`` merges JSON files into ``docs/gate_power.md``'s table.

Usage::

    .venv/bin/python benchmarks/gate_power.py single --seeds 12 --json /tmp/gp-single.json
    .venv/bin/python benchmarks/gate_power.py sweep --seeds 12 --json /tmp/gp-sweep.json
    .venv/bin/python benchmarks/gate_power.py leaks --seeds 4 --json /tmp/gp-leaks.json
    .venv/bin/python benchmarks/gate_power.py report /tmp/gp-single.json /tmp/gp-sweep.json /tmp/gp-leaks.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# One XGBoost thread: on a shared 2-core machine, OpenMP threads spin against other processes (measured: one
# protect training went from ~1 s to ~20 s at load 8). The flow uses XGBoost's default; verdicts do not change.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml
from synthetic import FAMILIES, NULL_FAMILIES, REPO, daily_bars, write_csv

PROTECT = REPO / "experiments" / "msft_protect.yaml"
LONG_FLAT = REPO / "experiments" / "goog_binary_long_flat.yaml"
WALK_FORWARD = {"method": "walk_forward", "folds": 6, "train_bars": 1260, "test_bars": 504}

#: kind -> (shipped hypothesis file, section overrides)
KINDS: dict[str, tuple[Path, dict[str, Any]]] = {
    "protect": (PROTECT, {}),
    "long_flat": (LONG_FLAT, {}),
    "protect_wf": (PROTECT, {"split": WALK_FORWARD}),
}
#: Families measured with the full number of seeds (the targets are about them); the others get fewer.
KEY_FAMILIES: tuple[str, ...] = ("noise", "noise_drift", "noise_fat", "strong_regime")

#: Leaky feature groups (each looks ahead differently), registered by a plugin module the benchmark writes.
LEAKS: dict[str, str] = {
    "qgp_next_return": "bars['close'].pct_change().shift(-1)",  # tomorrow's return
    "qgp_future_max": "bars['close'].rolling(5).max().shift(-5) / bars['close']",  # max of the next 5 closes
    "qgp_centred": "bars['close'].rolling(11, center=True).mean() / bars['close']",  # centred window
    "qgp_zscore": "(bars['close'] - bars['close'].mean()) / bars['close'].std()",  # whole-series normalisation
    "qgp_week_bfill": "bars['close'].resample('W').last().reindex(bars.index, method='bfill') / bars['close']",
}
LEAK_FAMILY = "strong_regime"
PLUGIN_MODULE = "qg_power_leaks"


def plugin_source() -> str:
    """A feature plugin module registering every :data:`LEAKS` group."""
    lines = ["import pandas as pd", "from pipeline.features import feature_group", ""]
    for group, expr in LEAKS.items():
        lines += [
            f'@feature_group("{group}", warmup=5)',
            f"def {group}(bars):",
            f'    return pd.DataFrame({{"{group}_x": {expr}}}, index=bars.index)',
            "",
        ]
    return "\n".join(lines)


def hypothesis(
    kind: str, family: str, seed: int, data_path: Path, start: str, end: str, leak: str | None = None
) -> dict[str, Any]:
    """The shipped hypothesis of ``kind`` pointed at one synthetic file, judged by the shipped policy."""
    base, overrides = KINDS[kind]
    raw = yaml.safe_load(base.read_text())
    tag = f"{kind}-{family}-{seed}" + (f"-{leak}" if leak else "")
    name = f"power-{tag}".replace("_", "-")
    raw.update(
        name=name,
        hypothesis=f"SYNTHETIC {family} series (seed {seed}) for the gate power benchmark; {raw['hypothesis']}",
        data={
            "source": "file",
            "path": str(data_path),
            # one symbol per (series, kind): no two runs share a data family (see the module docstring)
            "symbol": f"SYN-{tag}".upper().replace("_", "-"),
            "timeframe": "1d",
            "start": start,
            "end": end,
        },
        registry={"model_name": name, "promote": False},
        **overrides,
    )
    if leak is not None:
        from pipeline.config import DEFAULT_FEATURE_GROUPS

        raw["features"] = {"groups": [*DEFAULT_FEATURE_GROUPS, leak], "plugins": [PLUGIN_MODULE]}
    raw.pop("gate", None)
    raw.pop("tags", None)
    return raw


def _row(outcome: Any, path: Path | str, seconds: float | None = None) -> dict[str, Any]:
    rules = outcome.rules
    return {
        "passed": bool(outcome.gate_passed),
        "failed": [r.name for r in rules if not r.passed],
        "values": {r.name: r.value for r in rules if isinstance(r.value, int | float)},
        "metrics": outcome.metrics,
        "n_trials": outcome.n_trials,
        "path": str(path),
        "seconds": seconds,
    }


def _error_row(path: Path | str, error: str) -> dict[str, Any]:
    return {
        "passed": False,
        "failed": ["error"],
        "error": " ".join(error.split())[:300],
        "metrics": {},
        "path": str(path),
    }


def _start_orchestration() -> None:
    from quantgate.cli._common import quiet_orchestration

    quiet_orchestration(False)  # before Prefect is imported: it also lengthens the temporary server's start-up wait


def run_single(paths: list[Path]) -> list[dict[str, Any]]:
    """Run each file as its own experiment in this process (Prefect starts once)."""
    from flows.experiment import experiment_flow
    from pipeline.errors import PlatformError

    out = []
    for path in paths:
        began = time.perf_counter()
        try:
            row = _row(experiment_flow(str(path)), path)
        except PlatformError as exc:
            row = _error_row(path, str(exc))
        row["seconds"] = round(time.perf_counter() - began, 1)
        print(f"{path.stem}: {'PASS' if row['passed'] else 'fail ' + ','.join(row['failed'])}", file=sys.stderr)
        out.append(row)
    return out


def run_sweep(folder: Path) -> list[dict[str, Any]]:
    """Run one folder as one sweep (``sweep_flow``, what ``quantgate sweep`` runs)."""
    from flows.sweep import sweep_flow

    began = time.perf_counter()
    outcome = sweep_flow(str(folder))
    seconds = round((time.perf_counter() - began) / max(1, len(outcome.results)), 1)
    rows = []
    for item in outcome.results:
        if item.outcome is not None:
            rows.append(_row(item.outcome, item.outcome.config_path, seconds))
        else:
            rows.append(_error_row(item.label, item.error or item.note or item.status))
    print(f"sweep {folder.name}: {sum(r['passed'] for r in rows)}/{len(rows)} passed", file=sys.stderr)
    return rows


_BARS: dict[tuple[str, ...], tuple[Any, Any]] = {}


class _MemoLeakage:
    """Inside ``with``: :func:`pipeline.experiment.gate.gate_experiment` reuses the look-ahead check of the
    first evaluation of the same experiment (same pipeline, bars and cuts: the result cannot differ), so
    judging one backtest at N = 1 and as a sweep item costs one check, not two."""

    def __init__(self) -> None:
        self.report: Any = None

    def __enter__(self) -> None:
        import pipeline.experiment.gate as module

        self._module, self._original = module, module.check_leakage

        def check(pipeline: Any, bars: Any, cuts: Any) -> Any:
            if self.report is None:
                self.report = self._original(pipeline, bars, cuts=cuts)
            return self.report

        module.check_leakage = check

    def __exit__(self, *exc: object) -> None:
        self._module.check_leakage = self._original


def fast_experiment(path: Path, contexts: list[Any]) -> list[dict[str, Any]]:
    """One experiment through the same pipeline functions the flow's tasks call, without Prefect, the bar
    store or MLflow: read the file, quality suite, features, split (or walk-forward folds), train, backtest
    (pooled over folds), then :func:`pipeline.experiment.gate.gate_experiment` (leakage check with the
    flow's seeded cuts, every rule of the shipped policy), once per trial context in ``contexts``: these stand
    in for what the flow reads from MLflow (None: a first run of its data family, N = 1; a sweep item: the
    sweep's planned size, no history). The backtest does not depend on N, so one training serves both.
    Returns one row per context."""
    import pandas as pd

    from pipeline.backtest import run_backtest
    from pipeline.config import load_experiments
    from pipeline.experiment.data import asset_class_of, experiment_window
    from pipeline.experiment.gate import gate_experiment
    from pipeline.experiment.walk_forward import pool_folds
    from pipeline.features import FeaturePipeline
    from pipeline.quality import raise_for_failure, validate_bars
    from pipeline.sources.file import read_bar_file
    from pipeline.split import build_dataset, build_walk_forward
    from pipeline.timeframes import bars_per_year
    from pipeline.training import train_model

    config = load_experiments(path)[0]
    data = config.data
    asset_class = asset_class_of(data)
    periods = bars_per_year(data.timeframe, asset_class)
    key = (str(data.path), str(data.start), str(data.end), data.timeframe, asset_class)
    if key not in _BARS:  # the kinds share a series: read and validate it once (the result cannot differ)
        bars = experiment_window(data).clip(read_bar_file(data.path))
        quality = validate_bars(bars, asset_class=asset_class, timeframe=data.timeframe, start=data.start, end=data.end)
        _BARS.clear()
        _BARS[key] = (bars, quality)
    bars, quality = _BARS[key]
    raise_for_failure(quality, f"{data.symbol} {data.timeframe}")
    pipeline = FeaturePipeline.from_config(config.features, asset_class)
    matrix, _ = pipeline.fit_transform(bars)

    def trade(dataset: Any) -> Any:
        model = train_model(dataset, config)
        features = dataset.test.features
        proba = pd.DataFrame(model.predict_proba(features), index=features.index)
        return run_backtest(dataset.test.bars, proba, config, periods)

    if config.split.method == "walk_forward":
        folds = [trade(fold) for fold in build_walk_forward(bars, matrix, config)]
        result = pool_folds(folds, periods)
    else:
        folds = []
        result = trade(build_dataset(bars, matrix, config))
    rows = []
    memo = _MemoLeakage()
    for trials in contexts:
        with memo:
            report, _ = gate_experiment(
                config=config,
                bars=bars,
                periods_per_year=periods,
                features=pipeline,
                quality=quality,
                backtest=result,
                has_model_artifact=True,
                has_feature_metadata=True,
                trials=trials,
                fold_excess_returns=[r.metrics["excess_return"] for r in folds] or None,
            )
        rows.append(
            {
                "passed": bool(report.passed),
                "failed": [r.name for r in report.failed_rules],
                "review": [r.name for r in report.review_rules],
                "values": {r.name: r.value for r in report.rules if isinstance(r.value, int | float)},
                "metrics": dict(result.metrics),
                "n_trials": report.n_trials,
                "path": str(path),
            }
        )
    return rows


def run_fast(paths: list[Path], modes: tuple[str, ...], family_size: int) -> dict[str, list[dict[str, Any]]]:
    """The fast path for each file, judged as a single run and/or as an item of a sweep of ``family_size``."""
    from pipeline.errors import PlatformError
    from pipeline.experiment.gate import TrialContext

    sweep = TrialContext(family_size, f"sweep family: {family_size} planned configs")
    contexts = [sweep if mode == "sweep" else None for mode in modes]
    out: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for path in paths:
        began = time.perf_counter()
        try:
            rows = fast_experiment(path, contexts)
        except PlatformError as exc:
            rows = [_error_row(path, str(exc)) for _ in modes]
        seconds = round(time.perf_counter() - began, 2)
        for mode, row in zip(modes, rows, strict=True):
            row["seconds"] = seconds
            out[mode].append(row)
        verdicts = " | ".join(
            f"{mode}: {'PASS' if row['passed'] else 'fail ' + ','.join(row['failed'])}"
            for mode, row in zip(modes, rows, strict=True)
        )
        print(f"{path.stem} ({seconds} s): {verdicts}", file=sys.stderr)
    return out


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and v == v]
    return statistics.median(finite) if finite else None


def table(rows_by_key: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Markdown rows: pass rate per mode, family and kind, and the rules that blocked."""
    lines = [
        "| mode | family | kind | passed | pass rate | N (median) | blocking rules (count) | sole blocker | "
        "median test Sharpe |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows_by_key):
        mode, family, kind = key.split("/")
        rows = rows_by_key[key]
        passed = sum(r["passed"] for r in rows)
        blocked = collections.Counter(name for r in rows for name in r["failed"])
        sole = collections.Counter(r["failed"][0] for r in rows if len(r["failed"]) == 1)
        sharpe = _median([r["metrics"].get("sharpe") for r in rows if r["metrics"]])
        n = _median([r.get("n_trials") for r in rows if r.get("n_trials")])
        lines.append(
            f"| {mode} | {family} | {kind} | {passed}/{len(rows)} | {passed / len(rows):.0%} | "
            f"{'-' if n is None else f'{n:g}'} | "
            f"{', '.join(f'{k} ({v})' for k, v in blocked.most_common()) or '-'} | "
            f"{', '.join(f'{k} ({v})' for k, v in sole.most_common()) or '-'} | "
            f"{'-' if sharpe is None else f'{sharpe:.2f}'} |"
        )
    return lines


def summary(rows_by_key: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Pass rates against the issue's targets, pooled over kinds."""
    pooled: dict[tuple[str, str], list[bool]] = collections.defaultdict(list)
    for key, rows in rows_by_key.items():
        mode, family, _ = key.split("/")
        group = "null (noise, noise_drift, noise_fat)" if family in NULL_FAMILIES else family
        if mode == "leaks":
            pooled[(mode, "leak caught (the leakage rule failed)")] += ["leakage" in r["failed"] for r in rows]
            pooled[(mode, "leakage the only failed rule")] += [r["failed"] == ["leakage"] for r in rows]
        else:
            pooled[(mode, group)] += [r["passed"] for r in rows]
    lines = ["| mode | family | passed | rate |", "|---|---|---|---|"]
    for (mode, group), flags in sorted(pooled.items()):
        lines.append(f"| {mode} | {group} | {sum(flags)}/{len(flags)} | {sum(flags) / len(flags):.1%} |")
    return lines


def compare(flow_json: Path, fast_json: Path) -> int:
    """Check the fast path against the flow on the same files: same verdict, same failed rules, same Sharpe."""

    def by_file(path: Path) -> dict[str, dict[str, Any]]:
        rows = json.loads(path.read_text())["rows"]
        return {Path(r["path"]).stem: r for group in rows.values() for r in group}

    flow_rows, fast_rows = by_file(flow_json), by_file(fast_json)
    common = sorted(set(flow_rows) & set(fast_rows))
    differ = 0
    for stem in common:
        a, b = flow_rows[stem], fast_rows[stem]
        sa, sb = a["metrics"].get("sharpe"), b["metrics"].get("sharpe")
        same = a["passed"] == b["passed"] and sorted(a["failed"]) == sorted(b["failed"])
        same = same and (sa == sb or (sa is not None and sb is not None and abs(sa - sb) < 1e-9))
        same = same and a.get("n_trials") == b.get("n_trials")
        differ += not same
        print(
            f"{stem}: {'same' if same else 'DIFFERENT'} flow {a['passed']} {a['failed']} {sa} N={a.get('n_trials')}"
            f" | fast {b['passed']} {b['failed']} {sb} N={b.get('n_trials')}"
        )
    print(f"{len(common)} experiments compared, {differ} differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("single", "sweep", "both", "leaks", "report", "compare"))
    parser.add_argument("inputs", nargs="*", type=Path, help="report: the JSON files to merge")
    parser.add_argument("--families", nargs="+", default=sorted(FAMILIES), choices=sorted(FAMILIES))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--seeds", type=int, default=12, help="seeds per key family (noise*, strong_regime)")
    parser.add_argument("--other-seeds", type=int, default=4, help="seeds per other family")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--sweep-size", type=int, default=None, help="the sweep's planned size (N) when seeds run in several batches"
    )
    parser.add_argument("--start", default="2000-01-01")
    parser.add_argument("--end", default="2019-12-31")
    parser.add_argument("--markdown", type=Path, default=None, help="report: write the tables here")
    parser.add_argument("--json", type=Path, default=None, help="where a run mode writes its rows")
    parser.add_argument("--fast", action="store_true", help="the fast path (same pipeline functions, no flow)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temporary folder)")
    args = parser.parse_args(argv)

    if args.mode == "compare":
        return compare(*args.inputs)
    if args.mode == "report":
        merged: dict[str, list[dict[str, Any]]] = {}
        for path in args.inputs:
            for key, rows in json.loads(path.read_text())["rows"].items():
                merged.setdefault(key, []).extend(rows)  # runs of further seeds add to the same family
        text = (
            "\n".join(
                [
                    "## Pooled against the targets",
                    "",
                    *summary(merged),
                    "",
                    "## Per family and kind",
                    "",
                    *table(merged),
                ]
            )
            + "\n"
        )
        if args.markdown:
            args.markdown.write_text(text)
        print(text)
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix=f"qg-gate-power-{args.mode}-"))
    os.environ["QUANTGATE_HOME"] = str(work / "home")
    for name in ("QUANTGATE_DB_URL", "MLFLOW_TRACKING_URI", "QUANTGATE_GATE_POLICY"):
        os.environ.pop(name, None)  # own stores; the SHIPPED gate policy
    from pipeline.config._policy import load_policy

    policy = load_policy()

    plan: dict[str, list[Path]] = {}
    if args.mode == "leaks":
        plugins = work / "plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        (plugins / f"{PLUGIN_MODULE}.py").write_text(plugin_source())
        sys.path.insert(0, str(plugins))
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            data = write_csv(daily_bars(LEAK_FAMILY, seed, args.start, args.end), work / "data" / f"leak_{seed}.csv")
            for leak in LEAKS:
                folder = work / "hypotheses" / leak
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{leak}_{seed}.yaml"
                path.write_text(
                    yaml.safe_dump(hypothesis("protect", LEAK_FAMILY, seed, data, args.start, args.end, leak))
                )
                plan.setdefault(f"{LEAK_FAMILY}/protect+{leak}", []).append(path)
    else:
        # the families the targets are about first, so a run cut short still measured them
        for family in sorted(args.families, key=lambda f: (f not in KEY_FAMILIES, f)):
            seeds = args.seeds if family in KEY_FAMILIES else args.other_seeds
            for seed in range(args.first_seed, args.first_seed + seeds):
                data = write_csv(daily_bars(family, seed, args.start, args.end), work / "data" / f"{family}_{seed}.csv")
                for kind in args.kinds:
                    folder = work / "hypotheses" / f"{family}_{kind}"
                    folder.mkdir(parents=True, exist_ok=True)
                    path = folder / f"{family}_{kind}_{seed}.yaml"
                    path.write_text(yaml.safe_dump(hypothesis(kind, family, seed, data, args.start, args.end)))
                    plan.setdefault(f"{family}/{kind}", []).append(path)

    if args.mode == "both" and not args.fast:
        raise SystemExit("mode both needs --fast (the flow runs single and sweep modes in separate homes)")
    modes = ("single", "sweep") if args.mode == "both" else (args.mode,)
    if not args.fast:
        _start_orchestration()
    began = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    payload: dict[str, Any] = {
        "mode": args.mode,
        "engine": "fast path" if args.fast else "experiment flow",
        "policy": {"path": policy.path, "sha256": policy.sha256},
        "seeds": args.seeds,
        "other_seeds": args.other_seeds,
        "span": f"{args.start}..{args.end}",
        "rows": results,
    }
    if args.fast:  # seed-major: a run cut short has measured every family and kind on its first seeds
        steps = [
            (key, [paths[i]], args.sweep_size or len(paths))
            for i in range(max(map(len, plan.values())))
            for key, paths in plan.items()
            if i < len(paths)
        ]
    else:
        steps = [(key, paths, len(paths)) for key, paths in plan.items()]
    for key, paths, size in steps:
        if args.fast:
            for mode, rows in run_fast(paths, modes, size).items():
                results.setdefault(f"{mode}/{key}", []).extend(rows)
        elif args.mode == "sweep":
            results[f"sweep/{key}"] = run_sweep(paths[0].parent)
        else:
            results[f"{args.mode}/{key}"] = run_single(paths)
        payload.update(
            experiments=sum(len(v) for k, v in results.items() if not k.startswith("sweep/") or modes == ("sweep",)),
            minutes=round((time.perf_counter() - began) / 60, 1),
            load_average=os.getloadavg(),
        )
        if args.json is not None:  # after every family and kind: a run cut short keeps what it measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(payload, indent=2, default=str))
    print("\n".join(table(results)))
    print(f"{payload['experiments']} experiments in {payload['minutes']} min; policy {policy.path} ({policy.sha256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
