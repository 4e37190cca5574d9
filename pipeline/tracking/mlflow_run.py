"""Generic logging into one MLflow run: tags, params, metrics and artifacts, by run id.

:class:`MlflowRunLogger` wraps :class:`mlflow.MlflowClient` calls for one run id (not MLflow's thread-local
"active run"), so a logger can be handed between threads (Prefect tasks); every failure becomes one
:class:`TrackingError` line naming the run. Batching to MLflow's request limits is ``log_batch``'s own.
quantgate's own record (config, data, gate, model) is :class:`pipeline.tracking.run.RunLogger`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from pipeline.errors import TrackingError, first_line
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

PARAM_VALUE_LIMIT = MAX_PARAM_VAL_LENGTH  # 6000 characters in MLflow 3
TRUNCATION_MARK = "...[truncated]"
TAG_VALUE_LIMIT = 8000
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
CURRENT_RUN: ContextVar[MlflowRunLogger | None] = ContextVar("quantgate_current_run", default=None)
"""The logger of the innermost ``with logger:`` block (parent of a nested :func:`start_run`)."""


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


class MlflowRunLogger:
    """Log tags, params, metrics and artifacts of one MLflow run.

    Every method raises :class:`TrackingError` (one line, naming the run) when MLflow fails. Use it as a
    context manager: the run ends FINISHED, FAILED when the block raises, KILLED on Ctrl-C.

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
        self._tokens: list[Token[MlflowRunLogger | None]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> MlflowRunLogger:
        self._tokens.append(CURRENT_RUN.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tokens:
            CURRENT_RUN.reset(self._tokens.pop())
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
            self.client.log_batch(self.run_id, tags=items)  # MLflow splits to its request limits

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
            self.client.log_batch(self.run_id, params=items)
        return logged

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
            self.client.log_batch(self.run_id, metrics=items)
        if skipped:
            logger.info("run %s: skipped non-finite or non-numeric metrics %s", self.run_id, skipped)
            with self._wrap("read tags"):
                previous = self.client.get_run(self.run_id).data.tags.get(T.SKIPPED_METRICS, "")
            names = sorted({*filter(None, previous.split(",")), *skipped})
            self.set_tags({T.SKIPPED_METRICS: ",".join(names)})
        return values

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
                fig.savefig(local, format="png", dpi=100)
                parent = str(Path(path).parent)
                self.log_file_artifact(local, None if parent == "." else parent)
        finally:
            if close:
                pyplot = sys.modules.get("matplotlib.pyplot")  # only pyplot-made figures need closing
                if pyplot is not None:
                    pyplot.close(fig)
