"""Resumable sweeps: a config already run on the same data with the same code is not run again."""

from __future__ import annotations

from pipeline.experiment.record import code_version
from pipeline.sweep.discovery import SweepItem
from pipeline.tracking import tags as T


def completed_run(item: SweepItem, fingerprint: str) -> str | None:
    """The id of a finished run of this exact (config hash, data fingerprint, code version), if any.

    A run counts only once its model was published (tag ``registry.version``, ``none`` when gated out):
    a process killed between the run's end and the registry leaves work to redo.
    """
    from mlflow import MlflowClient

    from pipeline.tracking import find_finished_run

    run_id = find_finished_run(
        item.config.name,
        {
            T.CONFIG_HASH: item.config_hash,
            T.DATA_FINGERPRINT: fingerprint,
            T.CODE_VERSION: code_version(),
            T.STATUS: T.STATUS_COMPLETED,
        },
    )
    if run_id is None or T.REGISTRY_VERSION not in MlflowClient().get_run(run_id).data.tags:
        return None
    return run_id
