"""Registered models: register a run's model, promote it to Production behind the gate, demote, list.

State is always read from MLflow (never cached), so a version moved by hand in the MLflow UI shows up.
Stage handling lives in :mod:`pipeline.registry._stages`; this module speaks of "production" and leaves
stage names to it. Every promotion or demotion made here is recorded in quantgate's ``promotion_history``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from pipeline.errors import PromotionRefused, TrackingError, first_line
from pipeline.registry import _stages
from pipeline.registry.history import HistoryRow, default_actor, model_lock, read_history, write_history
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    import xgboost as xgb

GATE_PASSED_TAG = T.GATE_PASSED
GATE_OVERRIDDEN_TAG = T.GATE_OVERRIDDEN
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


def _resolve_source(client: MlflowClient, run_id: str, model_uri: str) -> tuple[str, str | None]:
    """Return ``(source, model_id)`` for a ``models:/<id>``, ``runs:/...`` URI or an artifact name."""
    if model_uri.startswith("models:/"):
        rest = model_uri[len("models:/") :]
        if "/" in rest or "@" in rest:
            raise TrackingError(f"model URI {model_uri}: register a logged model (models:/<model id>), not a version")
        return model_uri, rest
    artifact_name = model_uri
    if model_uri.startswith("runs:/"):
        uri_run, _, artifact_name = model_uri[len("runs:/") :].partition("/")
        if uri_run != run_id:
            raise TrackingError(f"model URI {model_uri} belongs to run {uri_run}, not {run_id}")
    run = client.get_run(run_id)
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = {_quote(artifact_name)}",
    )
    if not models:
        raise TrackingError(f"run {run_id} has no logged model named {artifact_name!r}")
    newest = max(models, key=lambda model: model.creation_timestamp or 0)
    return f"models:/{newest.model_id}", newest.model_id


def register_model(
    run_id: str,
    model_name: str,
    model_uri: str = "model",
    gate_passed: bool = False,
    gate_tags: Mapping[str, Any] | None = None,
) -> ModelVersionInfo:
    """Register a run's logged model as a new version of ``model_name``, tagged with its gate result.

    Parameters
    ----------
    run_id : str
        The run that logged the model.
    model_name : str
        Registered model name (created if it does not exist).
    model_uri : str
        ``models:/<model id>`` (what :meth:`RunLogger.log_xgboost_model` returns), ``runs:/<run id>/<name>``
        or just the logged model's name in the run.
    gate_passed : bool
        The gate's verdict; stored as tag ``gate.passed`` (``true``/``false``) and checked by :func:`promote`.
    gate_tags : Mapping[str, Any], optional
        More tags for the version (e.g. ``gate.sharpe``); keys get a ``gate.`` prefix when they lack one.

    Returns
    -------
    ModelVersionInfo
        The new version (stage ``None``, no aliases).

    Raises
    ------
    TrackingError
        If the run, its model, or the registry cannot be reached.
    """
    client = MlflowClient()
    tags = {(key if key.startswith("gate.") else f"gate.{key}"): str(value) for key, value in (gate_tags or {}).items()}
    tags[GATE_PASSED_TAG] = "true" if gate_passed else "false"
    with _mlflow_errors(f"register model {model_name} from run {run_id}"):
        source, model_id = _resolve_source(client, run_id, model_uri)
        try:
            client.create_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        version = client.create_model_version(model_name, source, run_id=run_id, tags=tags, model_id=model_id)
        return _info(version, _aliases(client, model_name))


def _require_finished_run(model_name: str, version: str) -> None:
    """Refuse to promote a version whose source run is not FINISHED (still running, killed or failed)."""
    client = MlflowClient()
    with _mlflow_errors(f"promote model {model_name} version {version}"):
        run_id = client.get_model_version(model_name, version).run_id
        status = client.get_run(run_id).info.status if run_id else "FINISHED"
    if status != "FINISHED":
        raise PromotionRefused(
            f"model {model_name} version {version}: its run {run_id} is {status}, not FINISHED; refusing to promote"
        )


def promote(
    model_name: str,
    version: str | int,
    reason: str,
    actor: str | None = None,
    force: bool = False,
    db_url: str | None = None,
) -> ModelVersionInfo:
    """Make ``version`` the production model: stage Production and alias ``production``, history recorded.

    A version whose ``gate.passed`` tag is not ``true`` is refused unless ``force`` is given; a forced
    promotion is recorded with ``forced = True`` and tags the version ``gate.overridden = true``. The
    version previously in Production is archived (and recorded as Production -> Archived). Promoting the
    version that already is in production, in sync, changes and records nothing.
    Promotes and demotes of one model run one at a time, across processes and hosts
    (:func:`pipeline.registry.history.model_lock`): read, change and record happen inside the lock.

    Parameters
    ----------
    model_name : str
        Registered model name.
    version : str or int
        The version to promote.
    reason : str
        Why (required; recorded).
    actor : str, optional
        Who (default ``$USER@hostname``, or ``quantgate-flow`` when there is no user).
    force : bool
        Promote even though the gate did not pass.
    db_url : str, optional
        quantgate's database for the history.

    Returns
    -------
    ModelVersionInfo
        The promoted version.

    Raises
    ------
    PromotionRefused
        If the gate did not pass and ``force`` is False, ``reason`` is blank, or the version's run is not
        FINISHED (``force`` does not override that).
    TrackingError
        If the version does not exist or MLflow fails.
    """
    version = str(version)
    if not reason or not reason.strip():
        raise PromotionRefused(f"model {model_name} version {version}: a reason is required to promote")
    _require_finished_run(model_name, version)
    actor = actor or default_actor()
    client = MlflowClient()
    with _mlflow_errors(f"promote model {model_name} version {version}"), model_lock(model_name, db_url) as lock:
        target = get_version(model_name, version)
        if target.gate_passed is not True and not force:
            tag = "missing" if target.gate_passed is None else "false"
            raise PromotionRefused(
                f"model {model_name} version {version}: gate.passed is {tag}; refusing to promote "
                "(use force with a reason to override)"
            )
        if target.stage == _stages.PRODUCTION and target.is_production:
            return target
        forced = target.gate_passed is not True
        previous = [
            _info(v, {})
            for v in _versions(client, model_name)
            if _stages.stage_of(v) == _stages.PRODUCTION and str(v.version) != version
        ]
        _stages.move_to_production(client, model_name, version, [old.version for old in previous])
        if forced:
            client.set_model_version_tag(model_name, version, GATE_OVERRIDDEN_TAG, "true")
        now = dt.datetime.now(dt.UTC)
        rows = [
            HistoryRow(
                model_name=model_name,
                version=old.version,
                from_stage=old.stage,
                to_stage=_stages.ARCHIVED,
                actor=actor,
                reason=f"archived by promotion of version {version}: {reason.strip()}",
                run_id=old.run_id,
                gate_passed=old.gate_passed,
                forced=False,
                at=now,
            )
            for old in previous
        ]
        rows.append(
            HistoryRow(
                model_name=model_name,
                version=version,
                from_stage=target.stage,
                to_stage=_stages.PRODUCTION,
                actor=actor,
                reason=reason.strip(),
                run_id=target.run_id,
                gate_passed=target.gate_passed,
                forced=forced,
                at=now,
            )
        )
        write_history(rows, db_url, connection=lock)
        return get_version(model_name, version)


def demote(model_name: str, reason: str, actor: str | None = None, db_url: str | None = None) -> list[ModelVersionInfo]:
    """Take model ``model_name`` out of production: archive its production version(s), drop the alias.

    Versions in stage Production and the version the alias ``production`` points at (normally the same
    one) go to Archived; each change is recorded. Runs inside the model's registry lock, like :func:`promote`.

    Parameters
    ----------
    model_name : str
        Registered model name.
    reason : str
        Why (required; recorded).
    actor : str, optional
        Who (default ``$USER@hostname``, or ``quantgate-flow``).
    db_url : str, optional
        quantgate's database for the history.

    Returns
    -------
    list[ModelVersionInfo]
        The versions demoted, as they are now.

    Raises
    ------
    TrackingError
        If no version is in production, ``reason`` is blank, or MLflow fails.
    """
    if not reason or not reason.strip():
        raise TrackingError(f"model {model_name}: a reason is required to demote")
    actor = actor or default_actor()
    client = MlflowClient()
    with _mlflow_errors(f"demote model {model_name}"), model_lock(model_name, db_url) as lock:
        aliases = _aliases(client, model_name)
        current = [
            _info(v, aliases)
            for v in _versions(client, model_name)
            if _stages.stage_of(v) == _stages.PRODUCTION or aliases.get(PRODUCTION_ALIAS) == str(v.version)
        ]
        if not current:
            raise TrackingError(f"model {model_name}: no version is in production; nothing to demote")
        for info in current:
            if info.stage != _stages.ARCHIVED:
                _stages.archive_version(client, model_name, info.version)
        _stages.drop_production_alias(client, model_name)
        now = dt.datetime.now(dt.UTC)
        write_history(
            [
                HistoryRow(
                    model_name=model_name,
                    version=info.version,
                    from_stage=info.stage,
                    to_stage=_stages.ARCHIVED,
                    actor=actor,
                    reason=reason.strip(),
                    run_id=info.run_id,
                    gate_passed=info.gate_passed,
                    forced=False,
                    at=now,
                )
                for info in current
            ],
            db_url,
            connection=lock,
        )
        return [get_version(model_name, info.version) for info in current]


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
