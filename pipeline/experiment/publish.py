"""Register a gate-passing model and, when the experiment asks for it, promote it to Production."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config import ExperimentConfig
from pipeline.experiment.record import RunRecord
from pipeline.gate import GateReport
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    from pipeline.registry import ModelVersionInfo

FLOW_ACTOR = "quantgate-flow"


def publish_model(record: RunRecord, report: GateReport, config: ExperimentConfig) -> ModelVersionInfo | None:
    """Register the run's model if the gate passed; promote it if ``registry.promote``. None when gated out.

    Call it only after the run is FINISHED (its owner ended it): :func:`pipeline.registry.promote` refuses
    a version whose run is not. The run gets tag ``registry.version`` (the version, or ``none``) at the end,
    so that :func:`pipeline.sweep.completed_run` does not count a run whose publishing was interrupted.
    """
    from pipeline.experiment.run import pause_for_test
    from pipeline.registry import promote, register_model
    from pipeline.tracking import RunLogger

    run = RunLogger(record.run_id, record.experiment_name)
    if not report.passed:
        run.set_tags({T.REGISTRY_VERSION: "none"})
        return None
    info = register_model(record.run_id, config.model_name, record.model_uri, gate_passed=True, gate_tags=report.tags())
    pause_for_test("after_register")
    if config.registry.promote:
        info = promote(
            config.model_name,
            info.version,
            reason=f"gate passed (run {record.run_id}, {report.n_trials} trial(s): {report.n_trials_source})",
            actor=FLOW_ACTOR,
        )
    run.set_tags({T.REGISTRY_VERSION: info.version})  # last: a sweep resumes a run only once it is published
    return info
