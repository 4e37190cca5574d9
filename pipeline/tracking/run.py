"""Log one quantgate experiment run to MLflow.

:func:`start_run` creates the run and returns a :class:`RunLogger` bound to its id; use it as a context
manager (the run ends FINISHED, or FAILED when the block raises, KILLED on Ctrl-C) or call
:meth:`RunLogger.end` yourself. Every call goes through :class:`mlflow.MlflowClient` with the run id, not
through MLflow's thread-local "active run", so a logger can be handed between threads (Prefect tasks).

Only the experiment config becomes params; environment variables are never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from pipeline.config import ExperimentConfig, config_hash, flatten_config
from pipeline.errors import TrackingError, first_line
from pipeline.tracking import tags as T
from pipeline.tracking.fingerprint import FINGERPRINT_SCHEME, data_fingerprint
from pipeline.tracking.mlflow_setup import ensure_experiment
from pipeline.tracking.stale import owner_tags

if TYPE_CHECKING:
    import xgboost as xgb
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

PARAM_VALUE_LIMIT = MAX_PARAM_VAL_LENGTH  # 6000 characters in MLflow 3
TRUNCATION_MARK = "...[truncated]"
TAG_VALUE_LIMIT = 8000
_BATCH = 100  # MLflow's log_batch accepts at most 100 params / 1000 metrics / 100 tags per call
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
_UNKNOWN = "unknown"
_CURRENT: ContextVar[RunLogger | None] = ContextVar("quantgate_current_run", default=None)


@dataclass(frozen=True)
class LoggedModelRef:
    """Where a logged model lives.

    Attributes
    ----------
    model_uri : str
        ``models:/<model id>``: loadable with ``mlflow.xgboost.load_model`` and registrable.
    model_id : str
        MLflow 3's logged-model id (``m-...``).
    run_id : str
        The run that logged it.
    artifact_name : str
        The model's name within the run (``model``).
    """

    model_uri: str
    model_id: str
    run_id: str
    artifact_name: str


def metric_name(name: str) -> str:
    """Return ``name`` as a valid MLflow metric/tag key (disallowed characters become ``_``).

    Parameters
    ----------
    name : str
        A metric name such as ``sharpe`` or ``gate.psr``.

    Returns
    -------
    str
        The name with every character outside ``[A-Za-z0-9_-. /]`` replaced by ``_``.
    """
    cleaned = _NAME_BAD_CHARS.sub("_", str(name).strip())
    return cleaned or "_"


def finite_metrics(values: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """Split ``values`` into loggable floats and the names that were skipped.

    Booleans become 0/1, numpy scalars become floats; ``None``, NaN, +-inf and non-numbers are skipped.

    Parameters
    ----------
    values : Mapping[str, Any]
        Metric name to value.

    Returns
    -------
    tuple[dict[str, float], list[str]]
        ``(metrics, skipped)`` with names cleaned by :func:`metric_name`.
    """
    metrics: dict[str, float] = {}
    skipped: list[str] = []
    for raw_name, value in values.items():
        name = metric_name(raw_name)
        if isinstance(value, bool | np.bool_):
            metrics[name] = float(value)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            skipped.append(name)
            continue
        if math.isfinite(number):
            metrics[name] = number
        else:
            skipped.append(name)
    return metrics, skipped


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def git_state(path: str | Path | None = None) -> tuple[str, str]:
    """Return ``(commit, dirty)`` of the git work tree around ``path`` (default: the current directory).

    Parameters
    ----------
    path : str or Path, optional
        A folder inside the work tree.

    Returns
    -------
    tuple[str, str]
        The full commit hash and ``"true"``/``"false"``; ``("unknown", "unknown")`` outside a git
        repository, without git, or when git fails.
    """
    cwd = str(path) if path is not None else None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return _UNKNOWN, _UNKNOWN
    if not commit:
        return _UNKNOWN, _UNKNOWN
    return commit, "true" if status.strip() else "false"


class RunLogger:
    """Log params, tags, metrics, artifacts and the model of one MLflow run.

    Create it with :func:`start_run`. Every method raises :class:`TrackingError` (one line, naming the
    run) when MLflow fails.

    Parameters
    ----------
    run_id : str
        The MLflow run id.
    experiment_name : str
        The experiment the run belongs to (for messages).
    client : mlflow.MlflowClient, optional
        The client to use; defaults to one on the configured tracking URI.
    """

    def __init__(self, run_id: str, experiment_name: str, client: mlflow.MlflowClient | None = None) -> None:
        self.run_id = run_id
        self.experiment_name = experiment_name
        self.client = client or mlflow.MlflowClient()
        self._ended = False
        self._tokens: list[Token[RunLogger | None]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> RunLogger:
        self._tokens.append(_CURRENT.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tokens:
            _CURRENT.reset(self._tokens.pop())
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("KILLED")
        else:
            try:
                self.end("FAILED")
            except TrackingError:
                logger.exception("could not mark run %s FAILED", self.run_id)

    def end(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``); later calls do nothing.

        Parameters
        ----------
        status : str
            The terminal status.
        """
        if self._ended:
            return
        with self._wrap(f"end with status {status}"):
            self.client.set_terminated(self.run_id, status=status)
        self._ended = True

    @property
    def artifact_uri(self) -> str:
        """The run's artifact root URI."""
        with self._wrap("read artifact URI"):
            return self.client.get_run(self.run_id).info.artifact_uri

    @contextmanager
    def _wrap(self, action: str) -> Iterator[None]:
        try:
            yield
        except TrackingError:
            raise
        except (MlflowException, OSError) as exc:
            raise TrackingError(
                f"MLflow run {self.run_id} ({self.experiment_name}): cannot {action}: {first_line(exc)}"
            ) from exc
        except Exception as exc:
            # SQLAlchemy errors surface when the store itself fails (database down, schema mismatch).
            if exc.__class__.__module__.startswith("sqlalchemy"):
                raise TrackingError(
                    f"MLflow run {self.run_id} ({self.experiment_name}): cannot {action}: "
                    f"{exc.__class__.__name__}: {first_line(exc)}"
                ) from exc
            raise

    # -- tags and params ---------------------------------------------------------------------------------

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags (values become strings, clipped to MLflow's limit).

        Parameters
        ----------
        tags : Mapping[str, Any]
            Tag key to value.
        """
        items = [RunTag(str(key), _clip(str(value), TAG_VALUE_LIMIT)) for key, value in tags.items()]
        with self._wrap("set tags"):
            for start in range(0, len(items), _BATCH):
                self.client.log_batch(self.run_id, tags=items[start : start + _BATCH])

    def log_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """Log params, clipping values longer than MLflow's 6000-character limit.

        Parameters
        ----------
        params : Mapping[str, Any]
            Param key to value.

        Returns
        -------
        dict[str, str]
            What was logged (after clipping).
        """
        logged = {str(key): _clip(str(value), PARAM_VALUE_LIMIT) for key, value in params.items()}
        items = [Param(key, value) for key, value in logged.items()]
        with self._wrap("log params"):
            for start in range(0, len(items), _BATCH):
                self.client.log_batch(self.run_id, params=items[start : start + _BATCH])
        return logged

    def log_config(self, config: ExperimentConfig, yaml_path: str | Path | None = None) -> str:
        """Log the experiment config: flattened params, the YAML file, the resolved config and its hash.

        Params are ``flatten_config(config)`` (dotted keys, values clipped at 6000 characters). The YAML
        file goes to ``config/experiment.yaml``, the validated config (after ``extends:`` and matrix
        expansion) to ``config/resolved.json``. Tags: ``quantgate.config_hash``, ``quantgate.experiment``,
        the config's own ``tags``; the hypothesis becomes the run description.

        Parameters
        ----------
        config : ExperimentConfig
            The validated experiment.
        yaml_path : str or Path, optional
            The experiment file it was loaded from.

        Returns
        -------
        str
            The config hash.
        """
        digest = config_hash(config)
        self.log_params(flatten_config(config))
        tags: dict[str, Any] = dict(config.tags)
        tags.update(
            {
                T.CONFIG_HASH: digest,
                T.EXPERIMENT: config.name,
                MLFLOW_RUN_NOTE: config.hypothesis,
            }
        )
        if config.expansion:
            tags[T.EXPANSION] = json.dumps(config.expansion, sort_keys=True, default=str)
        self.set_tags(tags)
        self.log_dict_artifact(config.model_dump(mode="json"), "config/resolved.json")
        if yaml_path is not None:
            path = Path(yaml_path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TrackingError(f"{path}: cannot read the experiment file to log it ({exc})") from exc
            self.log_text_artifact(text, "config/experiment.yaml")
        return digest

    def log_git_commit(self, path: str | Path | None = None) -> tuple[str, str]:
        """Tag the run with ``git.commit`` and ``git.dirty`` (``unknown`` outside a git repository).

        Parameters
        ----------
        path : str or Path, optional
            A folder inside the work tree (default: the current directory).

        Returns
        -------
        tuple[str, str]
            ``(commit, dirty)``.
        """
        commit, dirty = git_state(path)
        self.set_tags({T.GIT_COMMIT: commit, T.GIT_DIRTY: dirty})
        return commit, dirty

    def log_data_fingerprint(
        self,
        bars: pd.DataFrame,
        source: str,
        symbol: str,
        timeframe: str,
        start: Any,
        end: Any,
    ) -> str:
        """Fingerprint the exact bars used and record where they came from.

        Tags ``data.fingerprint``, ``data.source``, ``data.symbol``, ``data.timeframe``, ``data.start``,
        ``data.end``, ``data.rows``; artifact ``data/fingerprint.json`` with the same plus the first and
        last bar times and, when present, the rows per provenance ``source``.

        Parameters
        ----------
        bars : pandas.DataFrame
            Canonical bars, exactly as fed to features.
        source, symbol, timeframe : str
            What was requested.
        start, end : date-like
            The requested window.

        Returns
        -------
        str
            The fingerprint (:func:`pipeline.tracking.fingerprint.data_fingerprint`).
        """
        fingerprint = data_fingerprint(bars)
        info: dict[str, Any] = {
            "fingerprint": fingerprint,
            "scheme": FINGERPRINT_SCHEME,
            "source": source,
            "symbol": symbol,
            "timeframe": timeframe,
            "start": _jsonable(start),
            "end": _jsonable(end),
            "rows": len(bars),
            "first_bar": bars.index[0].isoformat() if len(bars) else None,
            "last_bar": bars.index[-1].isoformat() if len(bars) else None,
        }
        if "source" in bars.columns:
            info["rows_by_source"] = {str(k): int(v) for k, v in bars["source"].value_counts().sort_index().items()}
        self.set_tags(
            {
                T.DATA_FINGERPRINT: fingerprint,
                T.DATA_SOURCE: source,
                T.DATA_SYMBOL: symbol,
                T.DATA_TIMEFRAME: timeframe,
            }
        )
        self.set_tags({T.DATA_START: info["start"], T.DATA_END: info["end"], T.DATA_ROWS: info["rows"]})
        self.log_dict_artifact(info, "data/fingerprint.json")
        self.log_bars_input(bars, fingerprint, source, symbol, timeframe, start, end)
        return fingerprint

    def log_bars_input(
        self, bars: pd.DataFrame, fingerprint: str, source: str, symbol: str, timeframe: str, start: Any, end: Any
    ) -> None:
        """Log the bars as the run's MLflow dataset input (context ``training``), digest = fingerprint.

        See :mod:`pipeline.tracking.dataset` (the digest is the fingerprint's first 32 hex characters).
        """
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        from pipeline.tracking.dataset import CONTEXT, bars_dataset

        dataset = bars_dataset(
            bars, fingerprint=fingerprint, source=source, symbol=symbol, timeframe=timeframe, start=start, end=end
        )
        entry = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, CONTEXT)])
        with self._wrap("log dataset input"):
            self.client.log_inputs(self.run_id, datasets=[entry])

    # -- metrics -----------------------------------------------------------------------------------------

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0, prefix: str = "") -> dict[str, float]:
        """Log numeric metrics; non-finite and non-numeric values are skipped, not failed.

        Skipped names are listed in the tag ``quantgate.skipped_metrics`` (NaN Sharpe of a flat
        strategy is information, not an error).

        Parameters
        ----------
        metrics : Mapping[str, Any]
            Metric name to value (backtest metric names are used as they are).
        step : int
            The step to log at.
        prefix : str
            Prepended to every name (e.g. ``"gate."``), unless a name already starts with it.

        Returns
        -------
        dict[str, float]
            What was logged.
        """
        named = {(key if key.startswith(prefix) else prefix + key): value for key, value in metrics.items()}
        values, skipped = finite_metrics(named)
        timestamp = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        items = [Metric(key, value, timestamp, step) for key, value in values.items()]
        with self._wrap("log metrics"):
            for start in range(0, len(items), 1000):
                self.client.log_batch(self.run_id, metrics=items[start : start + 1000])
        if skipped:
            logger.info("run %s: skipped non-finite or non-numeric metrics %s", self.run_id, skipped)
            with self._wrap("read tags"):
                previous = self.client.get_run(self.run_id).data.tags.get(T.SKIPPED_METRICS, "")
            names = sorted({*filter(None, previous.split(",")), *skipped})
            self.set_tags({T.SKIPPED_METRICS: ",".join(names)})
        return values

    def log_gate(
        self,
        report: Mapping[str, Any],
        tags: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        markdown: str | None = None,
    ) -> None:
        """Log a gate verdict: ``gate.*`` tags, ``gate.*`` metrics, ``gate/report.json`` (and ``.md``).

        ``gate.passed`` is taken from ``report["passed"]``; when ``report`` has ``rules`` (dicts with
        ``tier``, ``name``, ``value``, ``passed``), each rule gives metric ``gate.<name>`` and tag
        ``gate.rule.<name>`` = ``true``/``false``, and each tier tag ``gate.tier.<tier>``. Explicit
        ``tags`` and ``metrics`` are added on top (prefixed with ``gate.`` when they are not already).

        Parameters
        ----------
        report : Mapping[str, Any]
            ``GateReport.to_dict()``.
        tags : Mapping[str, Any], optional
            More gate tags.
        metrics : Mapping[str, Any], optional
            More gate metrics.
        markdown : str, optional
            ``GateReport.to_markdown()``, logged as ``gate/report.md``.
        """
        gate_tags: dict[str, Any] = {}
        gate_metrics: dict[str, Any] = {}
        if "passed" in report:
            gate_tags[T.GATE_PASSED] = _bool_text(report["passed"])
        tiers: dict[str, bool] = {}
        for rule in report.get("rules", []) or []:
            if not isinstance(rule, Mapping) or "name" not in rule:
                continue
            name = metric_name(str(rule["name"]))
            if "value" in rule:
                gate_metrics[f"gate.{name}"] = rule["value"]
            if "passed" in rule:
                gate_tags[T.gate_rule(name)] = _bool_text(rule["passed"])
                tier = rule.get("tier")
                if tier is not None:
                    tiers[str(tier)] = tiers.get(str(tier), True) and bool(rule["passed"])
        gate_tags.update({T.gate_tier(metric_name(tier)): _bool_text(ok) for tier, ok in tiers.items()})
        prefix = T.GATE_PREFIX
        gate_tags.update({(k if k.startswith(prefix) else prefix + k): v for k, v in (tags or {}).items()})
        gate_metrics.update(metrics or {})
        self.set_tags({key: _bool_text(v) if isinstance(v, bool) else v for key, v in gate_tags.items()})
        self.log_metrics(gate_metrics, prefix=T.GATE_PREFIX)
        self.log_dict_artifact(dict(report), "gate/report.json")
        if markdown is not None:
            self.log_text_artifact(markdown, "gate/report.md")

    # -- artifacts ---------------------------------------------------------------------------------------

    def log_dict_artifact(self, obj: Mapping[str, Any] | list[Any], path: str) -> None:
        """Log ``obj`` as a JSON artifact at ``path`` (datetimes, numpy scalars and paths become strings).

        Parameters
        ----------
        obj : Mapping or list
            A JSON-like object (quality report, feature metadata, gate report).
        path : str
            Run-relative artifact path ending in ``.json``.
        """
        text = json.dumps(obj, indent=2, sort_keys=False, default=_jsonable, allow_nan=True)
        self.log_text_artifact(text, path)

    def log_text_artifact(self, text: str, path: str) -> None:
        """Log ``text`` as an artifact at ``path`` (e.g. ``gate/report.md``).

        Parameters
        ----------
        text : str
            The content (UTF-8).
        path : str
            Run-relative artifact path.
        """
        with self._wrap(f"log artifact {path}"):
            self.client.log_text(self.run_id, text, path)

    def log_file_artifact(self, local_path: str | Path, artifact_dir: str | None = None) -> None:
        """Log a local file (its name kept) under ``artifact_dir``.

        Parameters
        ----------
        local_path : str or Path
            The file.
        artifact_dir : str, optional
            Run-relative folder.
        """
        with self._wrap(f"log artifact {local_path}"):
            self.client.log_artifact(self.run_id, str(local_path), artifact_dir)

    def log_figure(self, fig: Figure, path: str, close: bool = True) -> None:
        """Log a matplotlib figure as a PNG artifact.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        path : str
            Run-relative artifact path ending in ``.png``.
        close : bool
            Close the figure afterwards (frees its memory).
        """
        if not path.lower().endswith(".png"):
            raise TrackingError(f"MLflow run {self.run_id}: figure artifact {path!r} must end in .png")
        try:
            with tempfile.TemporaryDirectory(prefix="qg-fig-") as folder:
                local = Path(folder) / Path(path).name
                fig.savefig(local, format="png", dpi=100, bbox_inches="tight")
                parent = str(Path(path).parent)
                self.log_file_artifact(local, None if parent == "." else parent)
        finally:
            if close:
                pyplot = sys.modules.get("matplotlib.pyplot")  # only pyplot-made figures need closing
                if pyplot is not None:
                    pyplot.close(fig)

    # -- model -------------------------------------------------------------------------------------------

    def log_xgboost_model(
        self,
        booster: xgb.Booster,
        input_example: pd.DataFrame,
        artifact_name: str = "model",
        pip_requirements: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> LoggedModelRef:
        """Log an XGBoost booster with a signature and an input example (MLflow 3 logged model).

        The signature is inferred from ``input_example`` (its first rows, index dropped) and the booster's
        predictions on it. Requirements are passed explicitly (mlflow, xgboost, numpy, pandas, scipy at
        their installed versions) to skip MLflow's slow requirement inference.

        Parameters
        ----------
        booster : xgboost.Booster
            The trained model.
        input_example : pandas.DataFrame
            Feature rows in the order the model expects.
        artifact_name : str
            The logged model's name in the run.
        pip_requirements : list[str], optional
            Overrides the default requirements.
        metadata : Mapping[str, Any], optional
            Stored in the MLmodel file (e.g. ``n_classes``, feature names).

        Returns
        -------
        LoggedModelRef
            ``model_uri`` (``models:/<model id>``) and ``model_id``.
        """
        import mlflow.xgboost
        import xgboost as xgb
        from mlflow.models import infer_signature

        example = input_example.head(5).reset_index(drop=True)
        with self._wrap(f"log model {artifact_name}"):
            predictions = booster.predict(xgb.DMatrix(example))
            signature = infer_signature(example, predictions)
            # Create the logged model in the run's experiment ourselves: without an active fluent run
            # MLflow would file it under the *current* experiment (Default, ./mlruns).
            run = self.client.get_run(self.run_id)
            logged = mlflow.initialize_logged_model(
                name=artifact_name,
                source_run_id=self.run_id,
                params=dict(run.data.params),
                experiment_id=run.info.experiment_id,
            )
            info = mlflow.xgboost.log_model(
                booster,
                name=artifact_name,
                model_id=logged.model_id,
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements or default_pip_requirements(),
                metadata=dict(metadata) if metadata else None,
                run_id=self.run_id,
            )
        return LoggedModelRef(
            model_uri=info.model_uri, model_id=info.model_id, run_id=self.run_id, artifact_name=artifact_name
        )


def _bool_text(value: Any) -> str:
    if isinstance(value, str):
        return value.lower()
    return "true" if bool(value) else "false"


def default_pip_requirements() -> list[str]:
    """Return the requirements written next to a logged XGBoost model (installed versions).

    Returns
    -------
    list[str]
        ``name==version`` for mlflow, xgboost, numpy, pandas and scipy.
    """
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("mlflow", "xgboost", "numpy", "pandas", "scipy"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            requirements.append(package)
    return requirements


def start_run(
    experiment_name: str,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
) -> RunLogger:
    """Create an MLflow run (creating the experiment if needed) and return its logger.

    The run is tagged with its owner (this process's id and host) and a heartbeat, so that a later
    command can mark it KILLED if this process dies without ending it (:mod:`pipeline.tracking.stale`).

    Call :func:`pipeline.tracking.configure_mlflow` first. Use the result as a context manager so that
    the run ends FINISHED, or FAILED when the block raises.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment (quantgate uses the experiment name from the YAML).
    run_name : str, optional
        The run's display name.
    tags : Mapping[str, Any], optional
        Initial tags.
    nested : bool
        Make it a child of ``parent_run_id`` or, if that is not given, of the enclosing ``with start_run(...)``
        block (else MLflow's fluent active run).
    parent_run_id : str, optional
        The parent run (implies ``nested``), e.g. a sweep's run.

    Returns
    -------
    RunLogger
        A logger bound to the new run.

    Raises
    ------
    TrackingError
        If the run cannot be created, or ``nested`` has no parent.
    """
    from mlflow.tracking.context.registry import resolve_tags

    if nested and parent_run_id is None:
        enclosing = _CURRENT.get()
        active = mlflow.active_run()
        if enclosing is not None:
            parent_run_id = enclosing.run_id
        elif active is not None:
            parent_run_id = active.info.run_id
        else:
            raise TrackingError(f"experiment {experiment_name!r}: nested run requested but no parent run given")
    experiment_id = ensure_experiment(experiment_name)
    run_tags = {**owner_tags(), **{str(k): str(v) for k, v in (tags or {}).items()}}
    if parent_run_id is not None:
        run_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    client = mlflow.MlflowClient()
    try:
        run = client.create_run(experiment_id, run_name=run_name, tags=resolve_tags(run_tags))
    except MlflowException as exc:
        raise TrackingError(f"experiment {experiment_name!r}: cannot start run: {first_line(exc)}") from exc
    return RunLogger(run.info.run_id, experiment_name, client)


def _filter_value(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise TrackingError(f"tag value {value!r} contains both quote characters; cannot search for it")


def find_finished_run(experiment_name: str, tags: Mapping[str, Any]) -> str | None:
    """Return the newest FINISHED run of ``experiment_name`` carrying all ``tags``, or None.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment.
    tags : Mapping[str, Any]
        Tag key to value; all must match exactly (values compared as strings).

    Returns
    -------
    str or None
        The run id, or None when the experiment or such a run does not exist.
    """
    client = mlflow.MlflowClient()
    try:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None or experiment.lifecycle_stage == "deleted":
            return None
        clauses = [f"tags.`{key}` = {_filter_value(str(value))}" for key, value in tags.items()]
        clauses.append("attributes.status = 'FINISHED'")
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=" AND ".join(clauses),
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
    except MlflowException as exc:
        raise TrackingError(f"experiment {experiment_name!r}: cannot search runs: {first_line(exc)}") from exc
    return runs[0].info.run_id if runs else None
