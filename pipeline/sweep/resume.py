"""Resumable sweeps: a config already run on the same data with the same code is not run again."""

from __future__ import annotations

from pipeline.experiment.record import CODE_VERSION_TAG, CONFIG_HASH_TAG, STATUS_TAG, code_version
from pipeline.sweep.discovery import SweepItem


def completed_run(item: SweepItem, fingerprint: str) -> str | None:
    """The id of a finished run of this exact (config hash, data fingerprint, code version), if any."""
    from pipeline.tracking import configure_mlflow, find_finished_run

    configure_mlflow()
    return find_finished_run(
        item.config.name,
        {
            CONFIG_HASH_TAG: item.config_hash,
            "data.fingerprint": fingerprint,
            CODE_VERSION_TAG: code_version(),
            STATUS_TAG: "completed",
        },
    )
