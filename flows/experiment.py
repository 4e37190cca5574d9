"""One hypothesis file -> one tracked, gated, possibly promoted model."""

from __future__ import annotations

from prefect import flow

from pipeline.experiment import ExperimentOutcome
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.outcome import build_outcome
from pipeline.experiment.run import ExperimentRun
from pipeline.tracking.mlflow_setup import configure_mlflow
from pipeline.tracking.tags import SWEEP_FAMILY as FAMILY_TAG
from tasks.backtest import backtest, pool
from tasks.config import load_config
from tasks.data import ensure_data
from tasks.dataset import split_and_label, walk_forward
from tasks.features import build_features
from tasks.gate import gate
from tasks.quality import validate_quality
from tasks.registry import register
from tasks.sweep import count_trials
from tasks.tracking import check_artifacts, log_run, reap_stale
from tasks.training import train
from tasks.tuning import tune_model


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

    One :class:`ExperimentRun` owns the MLflow run from tuning to the gate and is the only thing that
    ends it; the model is registered (and promoted) only after the run is FINISHED.

    A sweep passes ``parent_run_id`` (its MLflow run), ``sweep_family`` and ``family_size`` so the gate's
    deflated Sharpe counts the sibling configs as trials; ``trials`` adds trials from elsewhere.
    """
    configure_mlflow()  # the one place an experiment points MLflow at its store (also in sweep workers)
    config = load_config(config_path, variant)
    if parent_run_id is None:  # a sweep reaps once, before its first experiment
        reap_stale()
    bars = ensure_data(config)
    quality = validate_quality(bars, config)
    pipeline, matrix, metadata = build_features(bars, config)
    folds = walk_forward(bars.bars, matrix, config) if config.split.method == "walk_forward" else []
    dataset = folds[-1] if folds else split_and_label(bars.bars, matrix, config)
    tags = {FAMILY_TAG: sweep_family} if sweep_family is not None else {}
    # The run's one owner: it ends the run FINISHED after the gate, or FAILED with the error's first line.
    with ExperimentRun(config, parent_run_id=parent_run_id, tags=tags) as run:
        tuned = None
        prior_trials = trials.n_trials if trials is not None else 0
        if config.tuning is not None:
            tuned = tune_model(run, dataset, config, bars.periods_per_year, trials=trials)
            trials = tuned.trials
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
        record = log_run(
            run,
            config=config,
            config_path=config_path,
            bars=bars,
            quality=quality,
            features=metadata,
            dataset=dataset,
            model=model,
            backtest=result,
            folds=fold_results,
        )
        has_model, has_metadata = check_artifacts(record)
        if sweep_family is not None:
            trials = count_trials(sweep_family, family_size, record.run_id, result.metrics.sharpe, trials)
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
            fold_excess_returns=[r.metrics.excess_return for r in fold_results] or None,
            own_trials=tuned.trials.n_trials - prior_trials if tuned else 1,
            sweep_family=sweep_family,
        )
    # Only a FINISHED run's model is registered (and promoted): a kill before this point leaves no version.
    version = register(record, report, config)
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
