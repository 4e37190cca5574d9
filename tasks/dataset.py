"""Split chronologically with embargoes, then label inside each segment."""

import pandas as pd
from prefect import task

from pipeline.config import ExperimentConfig
from pipeline.split import Dataset, build_dataset, build_walk_forward
from tasks._common import IN_MEMORY


@task(name="split-and-label", **IN_MEMORY)
def split_and_label(bars: pd.DataFrame, features: pd.DataFrame, config: ExperimentConfig) -> Dataset:
    """Train / validation / test segments with labels computed inside each."""
    return build_dataset(bars, features, config)


@task(name="walk-forward-folds", **IN_MEMORY)
def walk_forward(bars: pd.DataFrame, features: pd.DataFrame, config: ExperimentConfig) -> list[Dataset]:
    """One labelled train / validation / test dataset per walk-forward fold."""
    return build_walk_forward(bars, features, config)
