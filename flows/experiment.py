"""One hypothesis file -> one tracked, gated, possibly promoted model."""

from __future__ import annotations

from prefect import flow

from pipeline.experiment import ExperimentOutcome
from pipeline.experiment.gate import TrialContext
from pipeline.experiment.outcome import build_outcome
from tasks.backtest import backtest
from tasks.config import load_config
from tasks.data import ensure_data
from tasks.dataset import split_and_label
from tasks.features import build_features
from tasks.gate import gate
from tasks.quality import validate_quality
from tasks.registry import register
from tasks.tracking import check_artifacts, finish, log_run
from tasks.training import train


@flow(name="experiment", flow_run_name="{config_path}", log_prints=True, validate_parameters=False)
def experiment_flow(
    config_path: str,
    variant: int = 0,
    parent_run_id: str | None = None,
    trials: TrialContext | None = None,
) -> ExperimentOutcome:
    """Run one experiment: data, quality, features, split+label, train, backtest, log, gate, register."""
    config = load_config(config_path, variant)
    bars = ensure_data(config)
    quality = validate_quality(bars, config)
    pipeline, matrix, metadata = build_features(bars, config)
    dataset = split_and_label(bars.bars, matrix, config)
    model = train(dataset, config)
    result = backtest(dataset, model, config, bars.periods_per_year)
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
    )
    try:
        has_model, has_metadata = check_artifacts(record)
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
        )
        version = register(record, report, config)
    except BaseException:
        finish(record, "FAILED")
        raise
    finish(record, "FINISHED", {"registry.version": version.version if version else "none"})
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
