"""Point MLflow at quantgate's tracking store and create quantgate's experiments.

The tracking URI comes from the argument, else ``MLFLOW_TRACKING_URI``, else a SQLite file in
``QUANTGATE_HOME`` (:func:`pipeline.settings.mlflow_tracking_uri`). The model registry always uses the
same store. Experiments that quantgate creates on a database backend keep their artifacts under
:func:`pipeline.settings.mlflow_artifact_root` ``/<experiment name>``; on an HTTP tracking server the
server decides.
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from pipeline import settings
from pipeline.errors import TrackingError, first_line
from pipeline.store.database import quiet_aborted_pipeline_noise
from pipeline.tracking import tags as T

DB_SCHEMES: tuple[str, ...] = ("sqlite", "postgresql", "mysql", "mssql")
SCHEMA_LOCK_TIMEOUT_S = 300.0
_schema_ready: set[str] = set()
_schema_guard = threading.Lock()


def _scheme(uri: str) -> str:
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""


def is_database_uri(uri: str) -> bool:
    """Return whether ``uri`` is an SQLAlchemy database URL (MLflow's SQL store).

    Parameters
    ----------
    uri : str
        A tracking URI.

    Returns
    -------
    bool
        True for ``sqlite:``, ``postgresql[+driver]:``, ``mysql[+driver]:`` and ``mssql[+driver]:``.
    """
    return _scheme(uri) in DB_SCHEMES


def printable_uri(uri: str) -> str:
    """Return ``uri`` safe to print: database URLs lose their password.

    Parameters
    ----------
    uri : str
        A tracking URI.

    Returns
    -------
    str
        The URI, redacted when it is a database URL.
    """
    return settings.redact_url(uri) if is_database_uri(uri) else uri


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """Return the tracking URI quantgate uses: the argument, the environment, or the embedded SQLite.

    Parameters
    ----------
    tracking_uri : str, optional
        An explicit URI; wins over ``MLFLOW_TRACKING_URI``.

    Returns
    -------
    str
        The (unredacted) URI.
    """
    return tracking_uri or settings.mlflow_tracking_uri()


def configure_mlflow(tracking_uri: str | None = None) -> str:
    """Point MLflow tracking and the model registry at one store, creating a SQLite folder if needed.

    Parameters
    ----------
    tracking_uri : str, optional
        Tracking URI; defaults to ``MLFLOW_TRACKING_URI`` or ``sqlite:///$QUANTGATE_HOME/mlflow.db``.
        PostgreSQL works as ``postgresql+psycopg://user:pw@host/db``.

    Returns
    -------
    str
        The URI in use, with any password redacted (safe to print).

    Raises
    ------
    TrackingError
        If the URI is malformed.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if _scheme(uri) == "sqlite":
        try:
            database = make_url(uri).database
        except Exception as exc:  # sqlalchemy raises several types for a bad URL
            raise TrackingError(f"tracking URI {printable_uri(uri)}: not a valid SQLite URL ({exc})") from exc
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if is_database_uri(uri):
        if _scheme(uri) == "postgresql":
            quiet_aborted_pipeline_noise()
        ensure_schema(uri)
    return printable_uri(uri)


@contextmanager
def _schema_lock(uri: str) -> Iterator[None]:
    """Hold a cross-process lock for MLflow's first-time schema creation on database ``uri``.

    PostgreSQL: an advisory lock in the MLflow database itself (works across hosts). SQLite: an exclusive
    ``flock`` on ``<database>.init-lock`` next to the file. Other backends: no lock (the retry remains).
    """
    scheme = _scheme(uri)
    if scheme == "postgresql":
        engine = create_engine(uri, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("SELECT set_config('lock_timeout', :timeout, true)"),
                    {"timeout": f"{int(SCHEMA_LOCK_TIMEOUT_S * 1000)}ms"},
                )
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('quantgate.mlflow-schema'))"))
                yield
        finally:
            engine.dispose()
        return
    database = make_url(uri).database if scheme == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the retry in ensure_schema remains
        fcntl = None
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{database}.init-lock", "a") as handle:
        deadline = time.monotonic() + SCHEMA_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TrackingError(
                        f"tracking store {printable_uri(uri)}: another process held {handle.name} for over "
                        f"{SCHEMA_LOCK_TIMEOUT_S:.0f} s while creating MLflow's tables"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(tracking_uri: str) -> None:
    """Create MLflow's tables in database ``tracking_uri`` if they are missing, one process at a time.

    MLflow creates its schema when a store first opens a fresh database, and two processes doing so at
    once collide (``IntegrityError`` on ``alembic_version``). quantgate opens the store once per process
    under :func:`_schema_lock`, and retries once (for processes that are not quantgate's).

    Parameters
    ----------
    tracking_uri : str
        A database tracking URI.

    Raises
    ------
    TrackingError
        If the store cannot be opened or its schema created.
    """
    if tracking_uri in _schema_ready:
        return
    with _schema_guard:
        if tracking_uri in _schema_ready:
            return
        try:
            with _schema_lock(tracking_uri):
                for attempt in (1, 2):
                    try:
                        mlflow.MlflowClient(tracking_uri).search_experiments(max_results=1)
                        break
                    except (MlflowException, SQLAlchemyError) as exc:
                        if attempt == 2:
                            raise TrackingError(
                                f"tracking store {printable_uri(tracking_uri)}: cannot open or create MLflow's "
                                f"tables: {exc.__class__.__name__}: {first_line(exc)}"
                            ) from exc
        except SQLAlchemyError as exc:  # the lock's own connection
            raise TrackingError(
                f"tracking store {printable_uri(tracking_uri)}: cannot lock for schema creation: "
                f"{exc.__class__.__name__}: {first_line(exc)}"
            ) from exc
        _schema_ready.add(tracking_uri)


_clients: dict[tuple[str, str], mlflow.MlflowClient] = {}


def tracking_client() -> mlflow.MlflowClient:
    """The MlflowClient of the configured tracking and registry URIs, built once per pair and reused
    (a trading cycle looks the Production alias up every bar without building a client each time)."""
    key = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = mlflow.MlflowClient(*key)
    return client


def experiment_artifact_location(experiment_name: str) -> str:
    """Return where a new experiment named ``experiment_name`` keeps its artifacts.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment name.

    Returns
    -------
    str
        ``<artifact root>/<experiment name>`` (a ``file://`` URI by default).
    """
    return settings.mlflow_artifact_root().rstrip("/") + "/" + experiment_name


def compare_view_state() -> str:
    """The runs-table view quantgate saves in every experiment (MLflow UI's shared view state, as JSON).

    Columns: the dataset, the gate verdict and the key metrics (:data:`pipeline.tracking.tags.KEY_METRICS`)
    and the model; runs sorted by Sharpe, best first. Open it with :func:`runs_url`.
    """
    columns = ["attributes.`Dataset`", *(f"metrics.`{name}`" for name in T.KEY_METRICS), "attributes.`Models`"]
    return json.dumps({"selectedColumns": columns, "orderByKey": f"metrics.`{T.METRIC_SHARPE}`", "orderByAsc": False})


def experiment_tags() -> dict[str, str]:
    """Tags quantgate puts on its MLflow experiments so that the UI opens them ready to compare runs.

    ``mlflow.experimentKind`` (a model-development experiment, not GenAI) and the saved runs-table view
    ``mlflow.sharedViewState.quantgate`` (:func:`compare_view_state`).
    """
    return {T.EXPERIMENT_KIND: T.EXPERIMENT_KIND_ML, T.SHARED_VIEW_PREFIX + T.COMPARE_VIEW: compare_view_state()}


def runs_url(base_url: str, experiment_id: str) -> str:
    """The MLflow UI address of an experiment's runs table with quantgate's compare view.

    Parameters
    ----------
    base_url : str
        The MLflow server, e.g. ``http://127.0.0.1:5000``.
    experiment_id : str
        The experiment.
    """
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={T.COMPARE_VIEW}"


def ensure_experiment(experiment_name: str) -> str:
    """Return the id of experiment ``experiment_name``, creating (or restoring) it if needed.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment name.

    Returns
    -------
    str
        The experiment id.

    Raises
    ------
    TrackingError
        If MLflow refuses to create or read the experiment.
    """
    client = mlflow.MlflowClient()
    try:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment.experiment_id)
            for key, value in experiment_tags().items():
                if key not in experiment.tags:  # made by an older quantgate
                    client.set_experiment_tag(experiment.experiment_id, key, value)
            return experiment.experiment_id
        location = experiment_artifact_location(experiment_name) if is_database_uri(mlflow.get_tracking_uri()) else None
        try:
            return client.create_experiment(experiment_name, artifact_location=location, tags=experiment_tags())
        except MlflowException:
            # Another process may have created it between our read and our write.
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id
    except MlflowException as exc:
        raise TrackingError(f"experiment {experiment_name!r}: {first_line(exc)}") from exc


def run_url_hint(tracking_uri: str | None = None) -> str:
    """Return how to look at the runs: the server URL, or the ``mlflow ui`` command for a database store.

    Parameters
    ----------
    tracking_uri : str, optional
        Tracking URI; defaults to the one :func:`configure_mlflow` would use.

    Returns
    -------
    str
        ``<this Python's mlflow> ui --backend-store-uri '<uri>'`` (password redacted; the ``mlflow``
        beside the running interpreter, so it works without an activated venv) or ``open <http url>``.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if _scheme(uri) in ("http", "https"):
        return f"open {uri}"
    beside = Path(sys.executable).with_name("mlflow")
    command = shlex.quote(str(beside)) if beside.exists() else "mlflow"
    return f"{command} ui --backend-store-uri {shlex.quote(printable_uri(uri))}"
