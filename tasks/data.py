"""Make sure the experiment's bars are in the store, then read them."""

from prefect import get_run_logger, task

from pipeline.config import ExperimentConfig
from pipeline.experiment import ExperimentBars, load_experiment_bars
from tasks._common import IN_MEMORY, retry_unless_permanent


@task(
    name="ensure-data", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=retry_unless_permanent, **IN_MEMORY
)
def ensure_data(config: ExperimentConfig) -> ExperimentBars:
    """Ingest missing bars (primary source, then fallbacks) and load the experiment's window."""
    bars = load_experiment_bars(config.data)
    get_run_logger().info(
        "bars %s %s: %s (%d newly stored)", config.data.symbol, config.data.timeframe, bars.window, bars.ingested
    )
    return bars
