"""Everything quantgate knows about MLflow model-registry *stages*, in one file.

MLflow deprecated stages in 2.9 in favour of aliases, but its UI and many users still read them. quantgate
keeps both in step: the version in stage ``Production`` is the one the alias ``production`` points to.
When MLflow removes stages, this file is the only one to change (make the stage functions no-ops and
derive :func:`stage_of` from the alias).

MLflow warns (``FutureWarning``: "Model registry stages will be removed in a future major release") on
every stage call. :func:`_quiet` silences exactly that warning, only around the calls made here; it does
not touch the process-wide filters outside them. (``warnings.catch_warnings`` is not thread-safe: two
threads promoting at once may briefly see each other's filter; harmless, it only hides this warning.)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

PRODUCTION = "Production"
ARCHIVED = "Archived"
NO_STAGE = "None"
PRODUCTION_ALIAS = "production"


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Mm]odel registry stages", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*`stage`.*deprecated", category=FutureWarning)
        yield


def stage_of(version: ModelVersion) -> str:
    """Return the stage of ``version`` (``None``, ``Staging``, ``Production`` or ``Archived``).

    Parameters
    ----------
    version : ModelVersion
        An MLflow model version.

    Returns
    -------
    str
        The stage name; ``"None"`` when unset.
    """
    with _quiet():
        return version.current_stage or NO_STAGE


def move_to_production(client: MlflowClient, name: str, version: str, archive: list[str]) -> None:
    """Archive the versions in ``archive``, put ``version`` in stage Production and point the alias at it.

    The equivalent of ``transition_model_version_stage(..., archive_existing_versions=True)``, done one
    version at a time: MLflow 3.17's SQL store compares the integer version column with a string when
    archiving existing versions, which PostgreSQL rejects (``operator does not exist: integer <>
    character varying``).

    Parameters
    ----------
    client : MlflowClient
        Registry client.
    name : str
        Registered model name.
    version : str
        The version to promote.
    archive : list[str]
        The versions now in stage Production to archive first.
    """
    with _quiet():
        for other in archive:
            if other != version:
                client.transition_model_version_stage(name, other, ARCHIVED, archive_existing_versions=False)
        client.transition_model_version_stage(name, version, PRODUCTION, archive_existing_versions=False)
    client.set_registered_model_alias(name, PRODUCTION_ALIAS, version)


def archive_version(client: MlflowClient, name: str, version: str) -> None:
    """Move ``version`` to stage Archived.

    Parameters
    ----------
    client : MlflowClient
        Registry client.
    name : str
        Registered model name.
    version : str
        The version to archive.
    """
    with _quiet():
        client.transition_model_version_stage(name, version, ARCHIVED, archive_existing_versions=False)


def drop_production_alias(client: MlflowClient, name: str) -> None:
    """Remove the alias ``production`` from model ``name`` (no error when it is not set).

    Parameters
    ----------
    client : MlflowClient
        Registry client.
    name : str
        Registered model name.
    """
    if PRODUCTION_ALIAS in (client.get_registered_model(name).aliases or {}):
        client.delete_registered_model_alias(name, PRODUCTION_ALIAS)
