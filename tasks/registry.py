"""Register and promote gate-passing models."""

from prefect import task

from pipeline.config import ExperimentConfig
from pipeline.experiment.publish import publish_model
from pipeline.experiment.record import RunRecord
from pipeline.gate import GateReport
from pipeline.registry import ModelVersionInfo
from tasks._common import IN_MEMORY


@task(name="register", **IN_MEMORY)  # no retries: registering twice would add two versions
def register(record: RunRecord, report: GateReport, config: ExperimentConfig) -> ModelVersionInfo | None:
    """Register the model version when the gate passed; promote it when the YAML says so."""
    return publish_model(record, report, config)
