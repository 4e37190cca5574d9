"""The sweep's own MLflow run: parent of its experiments' runs, holder of the leaderboard."""

from __future__ import annotations

import pandas as pd

from pipeline.sweep.discovery import SweepPlan
from pipeline.sweep.trials import FAMILY_TAG
from pipeline.tracking import tags as T

SWEEP_EXPERIMENT = "quantgate-sweeps"


def open_sweep_run(plan: SweepPlan, parallel: int) -> str:
    """Create the sweep's parent run; returns its id."""
    from pipeline.tracking import start_run

    logger = start_run(
        SWEEP_EXPERIMENT,
        run_name=plan.family,
        tags={FAMILY_TAG: plan.family, T.SWEEP_FOLDER: str(plan.folder.resolve())},
    )
    logger.log_params({"folder": str(plan.folder), "experiments": len(plan.items), "parallel": parallel})
    if plan.errors:
        logger.log_text_artifact("\n".join(plan.errors) + "\n", "sweep/bad_files.txt")
    return logger.run_id


def close_sweep_run(run_id: str, board: pd.DataFrame, counts: dict[str, int]) -> None:
    """Log the leaderboard (MLflow table and CSV) and the outcome counts, then end the run."""
    import mlflow

    from pipeline.tracking import RunLogger

    logger = RunLogger(run_id, SWEEP_EXPERIMENT)
    logger.log_metrics({f"sweep.{k}": v for k, v in counts.items()})
    if not board.empty:
        mlflow.MlflowClient().log_table(run_id, board, "sweep/leaderboard.json")
        logger.log_text_artifact(board.to_csv(index=False), "sweep/leaderboard.csv")
    logger.end("FINISHED")
