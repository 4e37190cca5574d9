"""Evaluate the three-tier gate and show its report as a Prefect artifact."""

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from pipeline.experiment.gate import TrialContext, gate_experiment
from pipeline.experiment.record import RunRecord, log_gate_report
from pipeline.experiment.trials import combine, history_trials, record_own_trials
from pipeline.features import LeakageReport
from pipeline.gate import GateReport
from tasks._common import IN_MEMORY


@task(name="gate", **IN_MEMORY)
def gate(
    record: RunRecord, *, own_trials: int = 1, sweep_family: str | None = None, **evidence: Any
) -> tuple[GateReport, LeakageReport]:
    """Leakage check plus every gate rule, with the trials of the data family's history added; log the
    report to the run and as a markdown artifact."""
    bars = evidence["bars"]
    if len(bars):
        history = history_trials(
            evidence["config"],
            bars.index[0],
            bars.index[-1],
            exclude_run_id=record.run_id,
            exclude_sweep_family=sweep_family,
        )
        evidence["trials"] = combine(evidence.get("trials") or TrialContext(), history)
    record_own_trials(record.run_id, record.experiment_name, own_trials)
    report, leakage = gate_experiment(**evidence)
    log_gate_report(record, report, leakage)
    key = "".join(c if c.isalnum() else "-" for c in record.experiment_name.lower())[:60]
    create_markdown_artifact(
        markdown=report.to_markdown(), key=f"gate-{key}", description=f"Gate report, MLflow run {record.run_id}"
    )
    get_run_logger().info("gate %s", "PASSED" if report.passed else "FAILED")
    return report, leakage
