"""(a) Platform overhead: a full ``experiment_flow`` run versus bare ``xgboost.train`` + predict.

What is measured (all in one process, in a throw-away QUANTGATE_HOME and, unless ``--prefect-home`` is
given, a throw-away PREFECT_HOME; Prefect in ephemeral mode, i.e. no PREFECT_API_URL):

1. ``import flows.experiment`` (first import in the process).
2. Run 1 of ``experiment_flow`` on a copy of ``experiments/msft_protect.yaml``: pays the one-time costs
   (Prefect's temporary server start, its database migrations on a new PREFECT_HOME, lazy imports of
   MLflow / Great Expectations / matplotlib, ingesting the sample bars into the store).
3. Runs 2..N in the same process (server already up, bars already stored): the steady state.
4. Bare XGBoost on the same feature matrix: ``FeaturePipeline.from_config`` + ``build_dataset`` once
   (not timed), then DMatrix + ``xgb.train`` (params from ``pipeline.training.xgb.booster_params``, same
   ``num_boost_round`` and early stopping on the validation segment) + predict on the test features.
5. Each stage function called directly (no Prefect), to split the run into stages.

Target: full run <= 1.2 x bare training + 5 s.

Usage::

    .venv/bin/python benchmarks/overhead.py --repeats 3 --json benchmarks/results/overhead.json
    .venv/bin/python benchmarks/overhead.py --profile benchmarks/results/overhead.prof
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, machine_info, summarise, table, time_call, write_json

EXPERIMENT = REPO / "experiments" / "msft_protect.yaml"


def prepare_environment(args: argparse.Namespace) -> Path:
    """Point quantgate, MLflow and Prefect at a temporary folder; return the copied experiment file."""
    root = Path(tempfile.mkdtemp(prefix="qg-bench-overhead-"))
    os.environ["QUANTGATE_HOME"] = str(root / "home")
    for var in ("QUANTGATE_DB_URL", "MLFLOW_TRACKING_URI", "QUANTGATE_ARTIFACT_ROOT", "PREFECT_API_URL"):
        os.environ.pop(var, None)
    if args.prefect_home:
        os.environ["PREFECT_HOME"] = str(Path(args.prefect_home).resolve())
    else:
        os.environ["PREFECT_HOME"] = str(root / "prefect")
    # A new PREFECT_HOME migrates its database on the first start (~16 s); on a busy 2-core machine that
    # can exceed Prefect's default 20 s start-up timeout, which would fail the run instead of measuring it.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    target = root / "experiments" / EXPERIMENT.name
    target.parent.mkdir(parents=True)
    shutil.copy(EXPERIMENT, target)
    return target


def bare_xgboost(config, dataset, repeats: int) -> dict:
    """Time DMatrix + xgb.train + predict with the pipeline's params, rounds and early stopping."""
    import numpy as np
    import xgboost as xgb

    from pipeline.training.xgb import booster_params

    params = booster_params(config, "cpu")
    X_tr = dataset.train.X.to_numpy(np.float32)
    X_va = dataset.validation.X.to_numpy(np.float32)
    X_te = dataset.test.features.to_numpy(np.float32)
    y_tr = dataset.train.y.to_numpy()
    y_va = dataset.validation.y.to_numpy()

    def run():
        dtrain = xgb.DMatrix(X_tr, label=y_tr)
        dvalid = xgb.DMatrix(X_va, label=y_va)
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=config.model.num_boost_round,
            evals=[(dvalid, "validation")],
            early_stopping_rounds=config.model.early_stopping_rounds,
            verbose_eval=False,
        )
        booster.predict(xgb.DMatrix(X_te), iteration_range=(0, booster.best_iteration + 1))
        return booster

    times, booster = time_call(run, repeats=repeats, warmup=1)
    return {
        "times": summarise(times),
        "rounds": booster.num_boosted_rounds(),
        "best_iteration": booster.best_iteration,
        "rows": {"train": len(X_tr), "validation": len(X_va), "test": len(X_te)},
        "features": X_tr.shape[1],
        "params": params,
    }


def stage_breakdown(config_path: Path, repeats: int) -> tuple[dict, dict]:
    """Call every stage function of the flow directly; return median seconds per stage and context."""
    import pandas as pd

    from pipeline.config import load_experiments
    from pipeline.experiment import load_experiment_bars
    from pipeline.experiment.gate import gate_experiment
    from pipeline.experiment.outcome import build_outcome
    from pipeline.experiment.publish import publish_model
    from pipeline.experiment.record import artifacts_present, log_experiment_run, log_gate_report
    from pipeline.experiment.run import ExperimentRun
    from pipeline.features import FeaturePipeline, check_leakage
    from pipeline.quality import raise_for_failure, validate_bars
    from pipeline.registry import promote, register_model
    from pipeline.split import build_dataset
    from pipeline.training import train_model

    samples: dict[str, list[float]] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        samples.setdefault(name, []).append(time.perf_counter() - t0)
        return out

    def one_pass() -> dict:
        config = timed("load config", lambda: load_experiments(str(config_path))[0])
        bars = timed("load bars (store)", lambda: load_experiment_bars(config.data))
        quality = timed(
            "quality (GE suite + coverage)",
            lambda: raise_for_failure(
                validate_bars(
                    bars.bars,
                    asset_class=bars.asset_class,
                    timeframe=config.data.timeframe,
                    start=config.data.start,
                    end=config.data.end,
                ),
                "bench",
            ),
        )

        def features():
            pipe = FeaturePipeline.from_config(config.features, bars.asset_class)
            matrix, meta = pipe.fit_transform(bars.bars)
            return pipe, matrix, meta

        pipe, matrix, meta = timed("features", features)
        dataset = timed("split + labels", lambda: build_dataset(bars.bars, matrix, config))
        model = timed("train (train_model)", lambda: train_model(dataset, config))

        def backtest():
            from pipeline.backtest import run_backtest

            feats = dataset.test.features
            proba = pd.DataFrame(model.predict_proba(feats), index=feats.index)
            return run_backtest(dataset.test.bars, proba, config, bars.periods_per_year)

        result = timed("predict + backtest", backtest)
        from pipeline.tracking.mlflow_setup import configure_mlflow

        configure_mlflow()
        run = timed("open run (ExperimentRun)", lambda: ExperimentRun(config).__enter__())
        record = timed(
            "MLflow logging (log_experiment_run)",
            lambda: log_experiment_run(
                run,
                config=config,
                config_path=str(config_path),
                bars=bars,
                quality=quality,
                features=meta,
                dataset=dataset,
                model=model,
                backtest=result,
            ),
        )
        has_model, has_meta = timed("gate: read back artifacts", lambda: artifacts_present(record))
        timed("gate: leakage check (alone)", lambda: check_leakage(pipe, bars.bars, cuts=config.gate.leakage_cuts))

        def gate():
            report, leakage = gate_experiment(
                config=config,
                bars=bars.bars,
                periods_per_year=bars.periods_per_year,
                features=pipe,
                quality=quality,
                backtest=result,
                has_model_artifact=has_model,
                has_feature_metadata=has_meta,
            )
            log_gate_report(record, report, leakage)
            return report

        report = timed("gate: leakage + rules + log", gate)

        def registry():
            if report.passed:
                return publish_model(record, report, config)
            # The gate failed on this data: time what a passing run would do anyway.
            info = register_model(record.run_id, config.model_name, record.model_uri, gate_passed=True)
            return promote(config.model_name, info.version, reason="benchmark", actor="benchmark")

        timed("finish run", lambda: run.__exit__(None, None, None))
        version = timed("registry (register + promote)", registry)
        timed(
            "build outcome",
            lambda: build_outcome(
                config=config,
                config_path=str(config_path),
                window=bars.window,
                fingerprint=record.data_fingerprint,
                model=model,
                metrics=result.metrics,
                report=report,
                run_id=record.run_id,
                version=version,
            ),
        )
        return {
            "gate_passed": report.passed,
            "bars": len(bars.bars),
            "rounds": model.booster.num_boosted_rounds(),
            "device": model.device,
        }

    context: dict = {}
    for _ in range(repeats):
        context = one_pass()
    return {name: summarise(ts) for name, ts in samples.items()}, context


HEAVY_IMPORTS = (
    "prefect",
    "mlflow",
    "great_expectations",
    "xgboost",
    "matplotlib.pyplot",
    "pipeline.quality",
    "flows.experiment",
)


def import_times(repeats: int = 3) -> dict[str, dict]:
    """Seconds to import each heavy module alone in a fresh interpreter (median of ``repeats``)."""
    import subprocess

    code = (
        "import time, importlib; t = time.perf_counter(); importlib.import_module({!r}); print(time.perf_counter() - t)"
    )
    out = {}
    for module in HEAVY_IMPORTS:
        times = []
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, "-c", code.format(module)],
                capture_output=True, text=True, cwd=REPO, check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                times.append(float(proc.stdout.strip().splitlines()[-1]))
        out[module] = summarise(times) if times else {"error": proc.stderr[-300:]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="steady-state flow runs and stage repeats (median)")
    parser.add_argument("--prefect-home", help="reuse this PREFECT_HOME instead of a new temporary one")
    parser.add_argument("--profile", help="write a cProfile of one steady-state flow run to this path")
    parser.add_argument("--profile-cold", help="write a cProfile of run 1 (the cold run) to this path")
    parser.add_argument(
        "--imports", action="store_true", help="also time importing each heavy library in a fresh interpreter"
    )
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args()

    config_path = prepare_environment(args)
    results: dict = {"machine": machine_info(), "experiment": str(EXPERIMENT.relative_to(REPO))}

    t0 = time.perf_counter()
    from flows.experiment import experiment_flow

    results["import_flows_s"] = time.perf_counter() - t0

    cold_prof = None
    if args.profile_cold:
        import cProfile

        cold_prof = cProfile.Profile()
        cold_prof.enable()
    t0 = time.perf_counter()
    outcome = experiment_flow(str(config_path))
    results["flow_run1_s"] = time.perf_counter() - t0
    if cold_prof is not None:
        import pstats

        cold_prof.disable()
        cold_prof.dump_stats(args.profile_cold)
        print("\n=== cProfile of run 1 (cold), top 45 by cumulative time ===")
        pstats.Stats(cold_prof).sort_stats("cumulative").print_stats(45)

    warm = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        outcome = experiment_flow(str(config_path))
        warm.append(time.perf_counter() - t0)
    results["flow_warm"] = summarise(warm)
    results["flow_gate_passed"] = outcome.gate_passed

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        experiment_flow(str(config_path))
        prof.disable()
        prof.dump_stats(args.profile)
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative")
        print("\n=== cProfile of one steady-state flow run (top 40 by cumulative time) ===")
        stats.print_stats(40)

    if args.imports:
        results["imports"] = import_times()

    stages, context = stage_breakdown(config_path, args.repeats)
    results["stages"] = stages
    results["stage_context"] = context

    from pipeline.config import load_experiments
    from pipeline.experiment import load_experiment_bars
    from pipeline.features import FeaturePipeline
    from pipeline.split import build_dataset

    config = load_experiments(str(config_path))[0]
    bars = load_experiment_bars(config.data)
    matrix, _ = FeaturePipeline.from_config(config.features, bars.asset_class).fit_transform(bars.bars)
    dataset = build_dataset(bars.bars, matrix, config)
    bare = bare_xgboost(config, dataset, max(args.repeats, 5))
    results["bare"] = bare

    bare_s = bare["times"]["median"]
    warm_s = results["flow_warm"]["median"]
    cold_s = results["flow_run1_s"]
    stage_names = [n for n in stages if n != "gate: leakage check (alone)"]
    stage_sum = sum(stages[n]["median"] for n in stage_names)
    budget = 1.2 * bare_s + 5.0
    results["summary"] = {
        "bare_s": bare_s,
        "flow_cold_s": cold_s,
        "flow_warm_s": warm_s,
        "ratio_warm": warm_s / bare_s,
        "ratio_cold": cold_s / bare_s,
        "fixed_warm_s": warm_s - bare_s,
        "fixed_cold_s": cold_s - bare_s,
        "one_time_s": cold_s - warm_s,
        "stage_sum_s": stage_sum,
        "prefect_orchestration_s": warm_s - stage_sum,
        "budget_s": budget,
        "target_met_warm": warm_s <= budget,
        "target_met_cold": cold_s <= budget,
    }
    s = results["summary"]

    print("\n=== (a) platform overhead: experiment_flow vs bare xgboost.train + predict ===")
    print(
        f"data: {context['bars']} bars MSFT 1d, {bare['features']} features, train/valid/test rows "
        f"{bare['rows']['train']}/{bare['rows']['validation']}/{bare['rows']['test']}; "
        f"rounds platform {context['rounds']} / bare {bare['rounds']}; gate passed: {results['flow_gate_passed']}"
    )
    print(
        table(
            [
                ["import flows.experiment", results["import_flows_s"], "", ""],
                ["experiment_flow run 1 (cold)", cold_s, "", ""],
                [f"experiment_flow runs 2..{args.repeats + 1} (median)", warm_s, min(warm), max(warm)],
                ["bare xgb DMatrix+train+predict (median)", bare_s, bare["times"]["best"], bare["times"]["worst"]],
            ],
            ["measurement", "seconds", "best", "worst"],
        )
    )
    print()
    print(
        table(
            [[name, st["median"], st["best"], st["worst"]] for name, st in stages.items()]
            + [
                ["sum of stages (excl. 'alone' row)", stage_sum, "", ""],
                ["Prefect orchestration (warm flow - sum)", s["prefect_orchestration_s"], "", ""],
            ],
            ["stage (called directly, no Prefect)", "median s", "best", "worst"],
        )
    )
    if "imports" in results:
        print()
        print(
            table(
                [[m, st.get("median", st.get("error")), st.get("best", "")] for m, st in results["imports"].items()],
                ["import alone, fresh interpreter", "median s", "best s"],
            )
        )
    print()
    print(
        table(
            [
                ["ratio full / bare (warm)", s["ratio_warm"]],
                ["ratio full / bare (cold)", s["ratio_cold"]],
                ["fixed part: warm run - bare (s)", s["fixed_warm_s"]],
                ["fixed part: cold run - bare (s)", s["fixed_cold_s"]],
                ["one-time part: cold - warm (s)", s["one_time_s"]],
                ["budget 1.2 x bare + 5 s", budget],
                ["target met (warm)", s["target_met_warm"]],
                ["target met (cold)", s["target_met_cold"]],
            ],
            ["verdict", "value"],
        )
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
