"""Validate the bars with the Great Expectations suite; failing data stops the flow."""

from prefect import get_run_logger, task

from pipeline.config import ExperimentConfig
from pipeline.experiment import ExperimentBars
from pipeline.quality import QualityReport, raise_for_failure
from pipeline.quality.cache import validate_bars_cached
from tasks._common import IN_MEMORY


@task(name="validate-quality", **IN_MEMORY)
def validate_quality(bars: ExperimentBars, config: ExperimentConfig) -> QualityReport:
    """Run the suite for the asset class (a passed report for the same bars is reused); raise
    DataQualityError (no retry) when it fails."""
    report = validate_bars_cached(
        bars.bars,
        asset_class=bars.asset_class,
        timeframe=config.data.timeframe,
        start=config.data.start,
        end=config.data.end,
        symbol=config.data.symbol,  # records the passed bars: a trading cycle on them checks this verdict
    )
    get_run_logger().info(report.summary_line())
    return raise_for_failure(report, f"{config.data.symbol} {config.data.timeframe}")
