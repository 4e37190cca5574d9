"""Resumable sweeps: a config already run on the same data with the same code is not run again."""

from __future__ import annotations

from pipeline.experiment.record import code_version
from pipeline.sweep.discovery import SweepItem
from pipeline.tracking import tags as T


def completed_run(item: SweepItem, fingerprint: str) -> str | None:
    """The id of a finished run of this exact (config hash, data fingerprint, code version), if any."""
    from pipeline.tracking import configure_mlflow, find_finished_run

    configure_mlflow()
    return find_finished_run(
        item.config.name,
        {
            T.CONFIG_HASH: item.config_hash,
            T.DATA_FINGERPRINT: fingerprint,
            T.CODE_VERSION: code_version(),
            T.STATUS: T.STATUS_COMPLETED,
        },
    )
