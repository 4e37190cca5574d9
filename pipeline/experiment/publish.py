"""Register a gate-passing model and, when the experiment asks for it, promote it to Production."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config import ExperimentConfig
from pipeline.experiment.record import RunRecord
from pipeline.gate import GateReport

if TYPE_CHECKING:
    from pipeline.registry import ModelVersionInfo

FLOW_ACTOR = "quantgate-flow"


def publish_model(record: RunRecord, report: GateReport, config: ExperimentConfig) -> ModelVersionInfo | None:
    """Register the run's model if the gate passed; promote it if ``registry.promote``. None when gated out."""
    from pipeline.registry import promote, register_model

    if not report.passed:
        return None
    info = register_model(record.run_id, config.model_name, record.model_uri, gate_passed=True, gate_tags=report.tags())
    if config.registry.promote:
        info = promote(
            config.model_name,
            info.version,
            reason=f"gate passed (run {record.run_id}, {report.n_trials} trial(s): {report.n_trials_source})",
            actor=FLOW_ACTOR,
        )
    return info
