"""Registry queries: what MLflow has now (versions, stages, aliases), the production model, the history.

State is always read from MLflow (never cached), so a version moved by hand in the MLflow UI shows up.
Stage handling lives in :mod:`pipeline.registry._stages`; changes are :mod:`pipeline.registry.commands`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from pipeline.errors import TrackingError, first_line
from pipeline.registry import _stages
from pipeline.registry.history import read_history
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    import xgboost as xgb

GATE_PASSED_TAG = T.GATE_PASSED
PRODUCTION_ALIAS = _stages.PRODUCTION_ALIAS


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version as MLflow has it now.

    Attributes
    ----------
    name, version : str
        Registered model name and version number (as text).
    stage : str
        ``None``, ``Staging``, ``Production`` or ``Archived``.
    aliases : tuple[str, ...]
        Aliases pointing at this version (``production`` for the live one).
    run_id : str or None
        The run that produced the model.
    gate_passed : bool or None
        From the version tag ``gate.passed`` (None when the tag is missing).
    created : datetime or None
        Registration time (UTC).
    in_sync : bool
        Stage Production if and only if alias ``production``; False after a by-hand change of one only.
    """

    name: str
    version: str
    stage: str
    aliases: tuple[str, ...]
    run_id: str | None
    gate_passed: bool | None
    created: dt.datetime | None = None
    in_sync: bool = True

    @property
    def is_production(self) -> bool:
        """Whether the alias ``production`` points at this version."""
        return PRODUCTION_ALIAS in self.aliases


@dataclass(frozen=True)
class ModelSummary:
    """A registered model and all its versions, newest first.

    Attributes
    ----------
    name : str
        Registered model name.
    versions : list[ModelVersionInfo]
        Every version, newest first.
    production_version : str or None
        The version the alias ``production`` points at.
    in_sync : bool
        Whether every version's stage agrees with the alias.
    """

    name: str
    versions: list[ModelVersionInfo]
    production_version: str | None
    in_sync: bool


@contextmanager
def _mlflow_errors(what: str) -> Iterator[None]:
    try:
        yield
    except TrackingError:
        raise
    except MlflowException as exc:
        raise TrackingError(f"{what}: {first_line(exc)}") from exc


def _quote(name: str) -> str:
    if "'" in name:
        raise TrackingError(f"model name {name!r} must not contain a single quote")
    return f"'{name}'"


def _gate_flag(tags: Mapping[str, str]) -> bool | None:
    value = tags.get(GATE_PASSED_TAG)
    if value is None:
        return None
    return value.strip().lower() == "true"


def _created(version: ModelVersion) -> dt.datetime | None:
    stamp = version.creation_timestamp
    return dt.datetime.fromtimestamp(stamp / 1000, tz=dt.UTC) if stamp else None


def _info(version: ModelVersion, aliases: Mapping[str, str]) -> ModelVersionInfo:
    number = str(version.version)
    mine = tuple(sorted(alias for alias, target in aliases.items() if str(target) == number))
    stage = _stages.stage_of(version)
    in_sync = (stage == _stages.PRODUCTION) == (PRODUCTION_ALIAS in mine)
    return ModelVersionInfo(
        name=version.name,
        version=number,
        stage=stage,
        aliases=mine,
        run_id=version.run_id or None,
        gate_passed=_gate_flag(version.tags or {}),
        created=_created(version),
        in_sync=in_sync,
    )


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(version) for alias, version in (client.get_registered_model(name).aliases or {}).items()}


def _versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    versions: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(f"name={_quote(name)}", max_results=1000, page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            break
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def get_version(model_name: str, version: str | int) -> ModelVersionInfo:
    """Return one version's current state.

    Parameters
    ----------
    model_name : str
        Registered model name.
    version : str or int
        Version number.

    Returns
    -------
    ModelVersionInfo
        As MLflow has it now.

    Raises
    ------
    TrackingError
        If the model or version does not exist.
    """
    client = MlflowClient()
    with _mlflow_errors(f"model {model_name} version {version}"):
        return _info(client.get_model_version(model_name, str(version)), _aliases(client, model_name))


def list_models(model_name: str | None = None) -> list[ModelSummary]:
    """Return every registered model (or just ``model_name``) with its versions, read live from MLflow.

    Parameters
    ----------
    model_name : str, optional
        Only this model.

    Returns
    -------
    list[ModelSummary]
        Sorted by name; versions newest first.
    """
    client = MlflowClient()
    with _mlflow_errors("list registered models"):
        if model_name is not None:
            names = [client.get_registered_model(model_name).name]
        else:
            names = []
            token = None
            while True:
                page = client.search_registered_models(max_results=1000, page_token=token)
                names.extend(model.name for model in page)
                token = page.token
                if not token:
                    break
        summaries = []
        for name in sorted(names):
            aliases = _aliases(client, name)
            versions = [_info(v, aliases) for v in _versions(client, name)]
            summaries.append(
                ModelSummary(
                    name=name,
                    versions=versions,
                    production_version=aliases.get(PRODUCTION_ALIAS),
                    in_sync=all(v.in_sync for v in versions),
                )
            )
        return summaries


promotion_history = read_history  # the recorded promotions and demotions, oldest first


def production_model_uri(model_name: str, check: bool = True) -> str:
    """Return ``models:/<name>@production``.

    Parameters
    ----------
    model_name : str
        Registered model name.
    check : bool
        Verify that the alias exists (raise otherwise).

    Returns
    -------
    str
        The model URI.

    Raises
    ------
    TrackingError
        If ``check`` and model ``model_name`` has no production version.
    """
    if check:
        client = MlflowClient()
        with _mlflow_errors(f"model {model_name}"):
            if PRODUCTION_ALIAS not in _aliases(client, model_name):
                staged = [
                    str(v.version) for v in _versions(client, model_name) if _stages.stage_of(v) == _stages.PRODUCTION
                ]
                hint = (
                    f" (version {', '.join(staged)} is in stage Production but the alias is not set: promote it)"
                    if staged
                    else ""
                )
                raise TrackingError(f"model {model_name}: no version has the alias '{PRODUCTION_ALIAS}'{hint}")
    return f"models:/{model_name}@{PRODUCTION_ALIAS}"


def load_production_model(model_name: str) -> xgb.Booster:
    """Load the production version of ``model_name`` as an XGBoost booster.

    Parameters
    ----------
    model_name : str
        Registered model name.

    Returns
    -------
    xgboost.Booster
        The model.

    Raises
    ------
    TrackingError
        If there is no production version or it cannot be loaded.
    """
    import mlflow.xgboost

    uri = production_model_uri(model_name, check=True)
    with _mlflow_errors(f"load {uri}"):
        try:
            return mlflow.xgboost.load_model(uri)
        except OSError as exc:
            raise TrackingError(f"load {uri}: {first_line(exc)}") from exc
