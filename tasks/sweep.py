"""Sweep tasks: plan the folder, decide what to skip, keep the sweep's MLflow run and leaderboard."""

import os
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from pipeline.experiment.gate import TrialContext
from pipeline.sweep import Claim, SweepItem, SweepPlan, claim_item, combine, discover, leaderboard, sibling_trials
from pipeline.sweep.prepare import DatasetLocks, Prepared, load_prepared_bars, prepare_datasets
from pipeline.sweep.record import close_sweep_run, open_sweep_run
from pipeline.tracking import configure_mlflow, data_fingerprint
from tasks._common import IN_MEMORY


@task(name="plan-sweep", **IN_MEMORY)
def plan_sweep(folder: str) -> SweepPlan:
    """Every experiment under the folder; bad files are listed, not fatal."""
    return discover(folder)


@task(name="start-worker", **IN_MEMORY)
def start_worker() -> int:
    """Nothing but start a worker process: submitted once per worker when a parallel sweep begins, so the
    processes spawn and import (their initializer) while the sweep's process sets up. Returns the pid."""
    return os.getpid()


@task(name="prepare-data", **IN_MEMORY)
def prepare_data(plan: SweepPlan, locks: DatasetLocks | None = None) -> Prepared:
    """Ingest and quality-check each distinct dataset once, releasing its lock when done (items then only
    read it); a dataset that fails is left to its items, which report the error."""
    prepared = prepare_datasets(plan, locks)
    for line in prepared.errors:
        get_run_logger().warning("dataset not prepared (its experiments will fail): %s", line)
    return prepared


@task(name="claim-experiment", **IN_MEMORY)
def claim(item: SweepItem, force: bool) -> Claim:
    """Claim the config for this sweep unless it ran on the same data and code, or another sweep runs it
    (ingests the data if needed: the claim is per data fingerprint). Points MLflow at the store: it may
    run first in a sweep's worker process."""
    configure_mlflow()
    bars = load_prepared_bars(item.config.data)  # waits while this sweep's process still prepares the data
    return claim_item(item, data_fingerprint(bars.bars), force=force)


@task(name="open-sweep-run", **IN_MEMORY)
def open_sweep(plan: SweepPlan, parallel: int) -> str:
    """The sweep's parent MLflow run."""
    return open_sweep_run(plan, parallel)


@task(name="close-sweep-run", **IN_MEMORY)
def close_sweep(run_id: str, family: str, counts: dict[str, Any]) -> pd.DataFrame:
    """Leaderboard of the family's runs, logged to MLflow and as a Prefect table artifact."""
    board = leaderboard(family=family, limit=1000)
    close_sweep_run(run_id, board, counts)
    if not board.empty:
        create_table_artifact(
            table=board.round(4).astype(object).where(board.notna(), None).to_dict("records"),
            key=f"leaderboard-{''.join(c if c.isalnum() else '-' for c in family.lower())}"[:100],
            description=f"Sweep {family}: leaderboard",
        )
    return board


@task(name="count-trials", **IN_MEMORY)
def count_trials(
    family: str, family_size: int, run_id: str, own_sharpe: float, others: TrialContext | None
) -> TrialContext | None:
    """Trials behind a sweep result: the family's configs (Sharpes read from MLflow) plus ``others``."""
    return combine(sibling_trials(family, family_size, run_id=run_id, own_sharpe=own_sharpe), others)
