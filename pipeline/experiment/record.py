"""Record one experiment in MLflow: config, data, quality, features, metrics, plots and the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.config import ExperimentConfig, config_hash
from pipeline.experiment.data import ExperimentBars
from pipeline.experiment.walk_forward import fold_metrics

if TYPE_CHECKING:
    from pipeline.backtest import BacktestResult
    from pipeline.features import FeatureMetadata, LeakageReport
    from pipeline.gate import GateReport
    from pipeline.quality import QualityReport
    from pipeline.split import Dataset
    from pipeline.tracking import RunLogger
    from pipeline.training import TrainedModel

CODE_VERSION_TAG = "quantgate.code_version"
CONFIG_HASH_TAG = "quantgate.config_hash"
STATUS_TAG = "quantgate.status"


@dataclass(frozen=True)
class RunRecord:
    """Where an experiment was recorded."""

    run_id: str
    experiment_name: str
    model_uri: str
    data_fingerprint: str


def code_version() -> str:
    """A hash of quantgate's domain code (pipeline/), so results from different code never mix."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_tags(config: ExperimentConfig, fingerprint: str, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Tags identifying what a run computed: config hash, data fingerprint and code version."""
    tags = {
        CONFIG_HASH_TAG: config_hash(config),
        "data.fingerprint": fingerprint,
        CODE_VERSION_TAG: code_version(),
        "quantgate.symbol": config.data.symbol,
        "quantgate.timeframe": config.data.timeframe,
        **{f"user.{k}": v for k, v in config.tags.items()},
    }
    tags.update(extra or {})
    return {k: str(v) for k, v in tags.items()}


def log_experiment_run(
    *,
    config: ExperimentConfig,
    config_path: str | Path,
    bars: ExperimentBars,
    quality: QualityReport,
    features: FeatureMetadata,
    dataset: Dataset,
    model: TrainedModel,
    backtest: BacktestResult,
    parent_run_id: str | None = None,
    extra_tags: dict[str, Any] | None = None,
    extra_metrics: dict[str, float] | None = None,
    run_id: str | None = None,
    folds: Sequence[BacktestResult] = (),
) -> RunRecord:
    """Log everything but the gate into a new run (or into ``run_id``, opened earlier, e.g. for tuning).

    The run stays open (RUNNING) for the gate and is ended by :func:`finish_run`.
    """
    from pipeline.tracking import (
        RunLogger,
        configure_mlflow,
        data_fingerprint,
        equity_curve_figure,
        feature_importance_figure,
    )

    configure_mlflow()
    fingerprint = data_fingerprint(bars.bars)
    tags = run_tags(config, fingerprint, {STATUS_TAG: "running", **(extra_tags or {})})
    if run_id is None:
        logger = open_experiment_run(config, parent_run_id=parent_run_id, tags=tags)
    else:
        logger = RunLogger(run_id, config.name)
        logger.set_tags(tags)
    try:
        logger.log_config(config, config_path)
        logger.log_git_commit(Path(config_path).resolve().parent)
        logger.log_data_fingerprint(
            bars.bars, config.data.source, config.data.symbol, config.data.timeframe, config.data.start, config.data.end
        )
        logger.log_dict_artifact(quality.to_dict(), "quality/report.json")
        logger.log_text_artifact(quality.to_markdown(), "quality/report.md")
        logger.log_dict_artifact(features.to_dict(), "features/metadata.json")
        logger.log_dict_artifact(dataset.summary(), "data/split.json")
        logger.set_tags(
            {
                "model.device": model.device,
                "model.device_reason": model.device_reason,
                "data.asset_class": bars.asset_class,
            }
        )
        logger.log_metrics({"quality.coverage": quality.coverage, **model.val_metrics, **(extra_metrics or {})})
        logger.log_metrics(backtest.metrics)
        if folds:
            logger.log_metrics(fold_metrics(folds))
            logger.set_tags({"split.method": "walk_forward"})
        logger.log_dict_artifact(model.feature_importance(), "model/feature_importance.json")
        logger.log_figure(
            equity_curve_figure(
                backtest.equity, backtest.benchmark_equity, title=f"{config.name}: strategy vs buy-and-hold"
            ),
            "plots/equity_curve.png",
        )
        logger.log_figure(feature_importance_figure(model.feature_importance()), "plots/feature_importance.png")
        trades = backtest.trades
        if isinstance(trades, pd.DataFrame) and not trades.empty:
            logger.log_text_artifact(trades.to_csv(), "backtest/trades.csv")
        ref = logger.log_xgboost_model(
            model.booster,
            dataset.test.X.head(5),
            metadata={"n_classes": model.n_classes, "feature_names": model.feature_names},
        )
    except BaseException:
        logger.end("FAILED")
        raise
    return RunRecord(logger.run_id, config.name, ref.model_uri, fingerprint)


def open_experiment_run(
    config: ExperimentConfig, *, parent_run_id: str | None = None, tags: dict[str, str] | None = None
) -> RunLogger:
    """Create the experiment's MLflow run (nested under a sweep's run when ``parent_run_id`` is given)."""
    from pipeline.tracking import configure_mlflow, start_run

    configure_mlflow()
    return start_run(
        config.name,
        run_name=f"{config.data.symbol}-{config.data.timeframe}-{config_hash(config)[:6]}",
        tags={STATUS_TAG: "running", **(tags or {})},
        nested=parent_run_id is not None,
        parent_run_id=parent_run_id,
    )


def log_gate_report(record: RunRecord, report: GateReport, leakage: LeakageReport) -> None:
    """Attach the gate's verdict to the run: ``gate.*`` tags and metrics, JSON and Markdown reports."""
    from pipeline.tracking import RunLogger

    logger = RunLogger(record.run_id, record.experiment_name)
    logger.log_gate(report.to_dict(), tags=report.tags(), metrics=report.metrics(), markdown=report.to_markdown())
    logger.log_dict_artifact(leakage.to_dict(), "gate/leakage.json")


def finish_run(record: RunRecord, status: str = "FINISHED", tags: dict[str, Any] | None = None) -> None:
    """End a run opened by :func:`log_experiment_run`."""
    from pipeline.tracking import RunLogger

    logger = RunLogger(record.run_id, record.experiment_name)
    logger.set_tags({STATUS_TAG: "completed" if status == "FINISHED" else status.lower(), **(tags or {})})
    logger.end(status)


def artifacts_present(record: RunRecord) -> tuple[bool, bool]:
    """Whether the run really holds its model and its feature metadata (read back from MLflow)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        has_model = mlflow.models.get_model_info(record.model_uri) is not None
    except (MlflowException, OSError):
        has_model = False
    client = mlflow.MlflowClient()
    names = {a.path for a in client.list_artifacts(record.run_id, "features")}
    return has_model, "features/metadata.json" in names
