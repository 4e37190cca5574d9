"""Registry commands: register a run's model, promote it to production behind the gate, demote it.

Every promotion or demotion made here is recorded in quantgate's ``promotion_history``, inside the model's
registry lock (:func:`pipeline.registry.history.model_lock`). Reads are :mod:`pipeline.registry.queries`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.errors import PromotionRefused, TrackingError
from pipeline.registry import _stages
from pipeline.registry.history import HistoryRow, default_actor, model_lock, write_history
from pipeline.registry.queries import (
    GATE_PASSED_TAG,
    PRODUCTION_ALIAS,
    ModelVersionInfo,
    _aliases,
    _info,
    _mlflow_errors,
    _quote,
    _versions,
    get_version,
)
from pipeline.tracking import tags as T

GATE_OVERRIDDEN_TAG = T.GATE_OVERRIDDEN


def _history_rows(
    versions: Iterable[ModelVersionInfo],
    to_stage: str,
    actor: str,
    reason: str,
    forced: bool = False,
    at: dt.datetime | None = None,
) -> list[HistoryRow]:
    """One history row per version moving from its current stage to ``to_stage`` (``at``: default now)."""
    now = at or dt.datetime.now(dt.UTC)
    return [
        HistoryRow(
            model_name=info.name,
            version=info.version,
            from_stage=info.stage,
            to_stage=to_stage,
            actor=actor,
            reason=reason,
            run_id=info.run_id,
            gate_passed=info.gate_passed,
            forced=forced,
            at=now,
        )
        for info in versions
    ]


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
        archived = f"archived by promotion of version {version}: {reason.strip()}"
        rows = _history_rows(previous, _stages.ARCHIVED, actor, archived, at=now)
        rows += _history_rows([target], _stages.PRODUCTION, actor, reason.strip(), forced=forced, at=now)
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
        write_history(_history_rows(current, _stages.ARCHIVED, actor, reason.strip()), db_url, connection=lock)
        return [get_version(model_name, info.version) for info in current]
