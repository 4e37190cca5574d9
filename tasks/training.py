"""Train XGBoost on the train segment with early stopping on validation."""

from typing import Any

from prefect import get_run_logger, task

from pipeline.config import ExperimentConfig
from pipeline.split import Dataset
from pipeline.training import TrainedModel, train_model
from tasks._common import IN_MEMORY


@task(name="train", **IN_MEMORY)
def train(dataset: Dataset, config: ExperimentConfig, overrides: dict[str, Any] | None = None) -> TrainedModel:
    """Train one model; logs which device was used and why."""
    model = train_model(dataset, config, overrides=overrides)
    get_run_logger().info(
        "trained on %s (%s); best iteration %d", model.device, model.device_reason, model.best_iteration
    )
    return model
