"""Build the feature matrix with the one feature pipeline."""

import pandas as pd
from prefect import task

from pipeline.config import ExperimentConfig
from pipeline.experiment import ExperimentBars
from pipeline.features import FeatureMetadata, FeaturePipeline
from tasks._common import IN_MEMORY


@task(name="build-features", **IN_MEMORY)
def build_features(
    bars: ExperimentBars, config: ExperimentConfig
) -> tuple[FeaturePipeline, pd.DataFrame, FeatureMetadata]:
    """Fit the pipeline the YAML describes on the bars; return it, the matrix and its metadata."""
    pipeline = FeaturePipeline.from_config(config.features, bars.asset_class)
    matrix, metadata = pipeline.fit_transform(bars.bars)
    return pipeline, matrix, metadata
