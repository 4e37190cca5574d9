"""Load the experiment file."""

from prefect import task

from pipeline.config import ExperimentConfig, load_experiments
from tasks._common import IN_MEMORY


@task(name="load-config", **IN_MEMORY)
def load_config(config_path: str, variant: int = 0) -> ExperimentConfig:
    """Load and validate one experiment (``variant`` picks one expansion of a matrix file)."""
    return load_experiments(config_path)[variant]
