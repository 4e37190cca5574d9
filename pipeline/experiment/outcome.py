"""What one experiment run produced, for the CLI summary, sweeps and leaderboards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import ExperimentConfig
    from pipeline.gate import GateReport
    from pipeline.registry import ModelVersionInfo
    from pipeline.training import TrainedModel


@dataclass
class RuleLine:
    """One gate rule as the summary shows it."""

    tier: int
    name: str
    value: Any
    threshold: str
    passed: bool


@dataclass
class ExperimentOutcome:
    """The result of `experiment_flow`: where the data came from, how it scored, where it was recorded."""

    name: str
    config_path: str
    config_hash: str
    symbol: str
    timeframe: str
    source: str
    window: str
    data_fingerprint: str
    device: str
    device_reason: str
    metrics: dict[str, float]
    gate_passed: bool
    tier_passed: dict[int, bool]
    rules: list[RuleLine]
    n_trials: int
    n_trials_source: str
    run_id: str
    experiment_name: str
    tracking_uri: str
    ui_hint: str
    model_name: str
    model_version: str | None = None
    model_stage: str | None = None
    expansion: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    @property
    def failed_rules(self) -> list[RuleLine]:
        return [rule for rule in self.rules if not rule.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_outcome(
    *,
    config: ExperimentConfig,
    config_path: str,
    window: str,
    fingerprint: str,
    model: TrainedModel,
    metrics: Mapping[str, float],
    report: GateReport,
    run_id: str,
    version: ModelVersionInfo | None,
) -> ExperimentOutcome:
    """Collect the summary of one finished experiment."""
    from pipeline.config import config_hash
    from pipeline.tracking import printable_uri, resolve_tracking_uri, run_url_hint

    uri = resolve_tracking_uri()
    return ExperimentOutcome(
        name=config.name,
        config_path=config_path,
        config_hash=config_hash(config),
        symbol=config.data.symbol,
        timeframe=config.data.timeframe,
        source=config.data.source,
        window=window,
        data_fingerprint=fingerprint,
        device=model.device,
        device_reason=model.device_reason,
        metrics=dict(metrics),
        gate_passed=report.passed,
        tier_passed={tier: report.tier_passed(tier) for tier in (1, 2, 3)},
        rules=[RuleLine(r.tier, r.name, r.value, r.threshold, r.passed) for r in report.rules],
        n_trials=report.n_trials,
        n_trials_source=report.n_trials_source,
        run_id=run_id,
        experiment_name=config.name,
        tracking_uri=printable_uri(uri),
        ui_hint=run_url_hint(uri),
        model_name=config.model_name,
        model_version=None if version is None else str(version.version),
        model_stage=None if version is None else version.stage,
        expansion=dict(config.expansion),
    )
