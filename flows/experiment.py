"""One hypothesis file -> one tracked, gated, possibly promoted model."""

from __future__ import annotations

from prefect import flow

from pipeline.experiment import ExperimentOutcome
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.outcome import build_outcome
from tasks.backtest import backtest, pool
from tasks.config import load_config
from tasks.data import ensure_data
from tasks.dataset import split_and_label, walk_forward
from tasks.features import build_features
from tasks.gate import gate
from tasks.quality import validate_quality
from tasks.registry import register
from tasks.sweep import count_trials
from tasks.tracking import check_artifacts, finish, log_run
from tasks.training import train
from tasks.tuning import end_tuned_run, tune_model


@flow(name="experiment", flow_run_name="{config_path}", log_prints=True, validate_parameters=False)
def experiment_flow(
    config_path: str,
    variant: int = 0,
    parent_run_id: str | None = None,
    trials: TrialContext | None = None,
    sweep_family: str | None = None,
    family_size: int = 1,
) -> ExperimentOutcome:
    """Run one experiment: data, quality, features, split+label, train, backtest, log, gate, register.

    A sweep passes ``parent_run_id`` (its MLflow run), ``sweep_family`` and ``family_size`` so the gate's
    deflated Sharpe counts the sibling configs as trials; ``trials`` adds trials from elsewhere.
    """
    config = load_config(config_path, variant)
    bars = ensure_data(config)
    quality = validate_quality(bars, config)
    pipeline, matrix, metadata = build_features(bars, config)
    folds = walk_forward(bars.bars, matrix, config) if config.split.method == "walk_forward" else []
    dataset = folds[-1] if folds else split_and_label(bars.bars, matrix, config)
    tuned = None
    if config.tuning is not None:
        # Opens the experiment's MLflow run first so the trial runs nest under it; log_run reuses it.
        tuned = tune_model(dataset, config, bars.periods_per_year, parent_run_id=parent_run_id, trials=trials)
        trials = tuned.trials
    try:
        params = tuned.best_params if tuned else None
        fold_results = []
        for fold in folds:  # walk-forward: one model per fold; the last fold's model is the one registered
            model = train(fold, config, params)
            fold_results.append(backtest(fold, model, config, bars.periods_per_year))
        if folds:
            result = pool(fold_results, bars.periods_per_year)
        else:
            model = train(dataset, config, params)
            result = backtest(dataset, model, config, bars.periods_per_year)
    except BaseException:
        if tuned is not None:
            end_tuned_run(tuned, "FAILED")
        raise
    record = log_run(
        config=config,
        config_path=config_path,
        bars=bars,
        quality=quality,
        features=metadata,
        dataset=dataset,
        model=model,
        backtest=result,
        parent_run_id=parent_run_id,
        run_id=tuned.run_id if tuned else None,
        folds=fold_results,
    )
    try:
        has_model, has_metadata = check_artifacts(record)
        if sweep_family is not None:
            trials = count_trials(sweep_family, family_size, record.run_id, result.metrics["sharpe"], trials)
        report, _ = gate(
            record,
            config=config,
            bars=bars.bars,
            periods_per_year=bars.periods_per_year,
            features=pipeline,
            quality=quality,
            backtest=result,
            has_model_artifact=has_model,
            has_feature_metadata=has_metadata,
            trials=trials,
            fold_excess_returns=[r.metrics["excess_return"] for r in fold_results] or None,
        )
        version = register(record, report, config)
    except BaseException:
        finish(record, "FAILED")
        raise
    tags = {"registry.version": version.version if version else "none"}
    if sweep_family is not None:
        tags["quantgate.sweep_family"] = sweep_family
    finish(record, "FINISHED", tags)
    return build_outcome(
        config=config,
        config_path=config_path,
        window=bars.window,
        fingerprint=record.data_fingerprint,
        model=model,
        metrics=result.metrics,
        report=report,
        run_id=record.run_id,
        version=version,
    )
