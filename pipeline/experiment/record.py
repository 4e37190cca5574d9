"""Record one experiment in MLflow: config, data, quality, features, metrics, plots and the model.

The run itself is opened and ended by its owner, :class:`pipeline.experiment.run.ExperimentRun`;
the functions here only log into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.config import ExperimentConfig, config_hash
from pipeline.experiment.data import ExperimentBars
from pipeline.experiment.trials import family_key
from pipeline.experiment.walk_forward import fold_metrics
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    from pipeline.backtest import BacktestResult
    from pipeline.experiment.run import ExperimentRun
    from pipeline.features import FeatureMetadata, LeakageReport
    from pipeline.gate import GateReport
    from pipeline.quality import QualityReport
    from pipeline.split import Dataset
    from pipeline.training import TrainedModel


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
    from pipeline.config._policy import load_policy

    policy = load_policy()
    tags = {
        T.CONFIG_HASH: config_hash(config),
        T.GATE_POLICY_PATH: policy.path,
        T.GATE_POLICY_HASH: policy.sha256,
        T.DATA_FAMILY: family_key(config),
        T.DATA_FINGERPRINT: fingerprint,
        T.CODE_VERSION: code_version(),
        T.SYMBOL: config.data.symbol,
        T.TIMEFRAME: config.data.timeframe,
        **{f"{T.USER_PREFIX}{k}": v for k, v in config.tags.items()},
    }
    tags.update(extra or {})
    return {k: str(v) for k, v in tags.items()}


def log_experiment_run(
    run: ExperimentRun,
    *,
    config: ExperimentConfig,
    config_path: str | Path,
    bars: ExperimentBars,
    quality: QualityReport,
    features: FeatureMetadata,
    dataset: Dataset,
    model: TrainedModel,
    backtest: BacktestResult,
    extra_tags: dict[str, Any] | None = None,
    extra_metrics: dict[str, float] | None = None,
    folds: Sequence[BacktestResult] = (),
) -> RunRecord:
    """Log everything but the gate into ``run`` (opened and ended by its :class:`ExperimentRun` owner).

    Raises on any failure and leaves ending the run to the owner.
    """
    from pipeline.experiment.run import pause_for_test
    from pipeline.tracking import data_fingerprint, equity_curve_figure, feature_importance_figure

    run.stage("logging")
    logger = run.logger
    fingerprint = data_fingerprint(bars.bars)
    logger.set_tags(run_tags(config, fingerprint, extra_tags))
    if len(bars.bars):
        first, last = bars.bars.index[0], bars.bars.index[-1]
        logger.set_tags({T.FAMILY_FIRST_BAR: first.isoformat(), T.FAMILY_LAST_BAR: last.isoformat()})
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
            T.MODEL_DEVICE: model.device,
            T.MODEL_DEVICE_REASON: model.device_reason,
            T.DATA_ASSET_CLASS: bars.asset_class,
        }
    )
    logger.log_metrics({"quality.coverage": quality.coverage, **model.val_metrics, **(extra_metrics or {})})
    logger.log_metrics(backtest.metrics)
    if folds:
        logger.log_metrics(fold_metrics(folds))
        logger.set_tags({T.SPLIT_METHOD: "walk_forward"})
    logger.log_dict_artifact(model.feature_importance(), "model/feature_importance.json")
    pause_for_test("logging")
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
    return RunRecord(logger.run_id, config.name, ref.model_uri, fingerprint)


def log_gate_report(record: RunRecord, report: GateReport, leakage: LeakageReport) -> None:
    """Attach the gate's verdict to the run: ``gate.*`` tags and metrics, JSON and Markdown reports."""
    from pipeline.tracking import RunLogger

    logger = RunLogger(record.run_id, record.experiment_name)
    logger.log_gate(report.to_dict(), tags=report.tags(), metrics=report.metrics(), markdown=report.to_markdown())
    logger.log_metrics(gate_key_metrics(report))
    logger.log_dict_artifact(leakage.to_dict(), "gate/leakage.json")


def gate_key_metrics(report: GateReport) -> dict[str, float]:
    """The gate's verdict and statistics as top-level metrics: ``gate_passed`` (1/0), ``psr``, ``dsr``, ``n_trials``.

    They sit next to the backtest's ``sharpe``, ``total_return``, ``max_drawdown``, ``n_trades`` so that the
    MLflow runs table can sort and show them as columns. Non-finite values are skipped when logged.
    """
    gate = report.metrics()
    metrics = {T.METRIC_GATE_PASSED: 1.0 if report.passed else 0.0, T.METRIC_N_TRIALS: float(report.n_trials)}
    for name in (T.METRIC_PSR, T.METRIC_DSR):
        if f"{T.GATE_PREFIX}{name}" in gate:
            metrics[name] = gate[f"{T.GATE_PREFIX}{name}"]
    return metrics


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
