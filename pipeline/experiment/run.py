"""The one owner of an experiment's MLflow run.

:class:`ExperimentRun` opens the run when its ``with`` block starts and is the only thing that ends it:
FINISHED when the block completes, FAILED (KILLED on Ctrl-C) when it raises. On failure it records the
original error's first line (tag ``quantgate.error``); a second failure while recording (the tracking
database is gone, say) is logged and never replaces the original error. Everything else (tuning, logging,
the gate) logs into the open run through :attr:`ExperimentRun.logger`.

The owner refreshes a heartbeat at stage boundaries (:meth:`ExperimentRun.stage`), on its own run and on
its parent (a sweep's run), so that :func:`pipeline.tracking.reap_stale_runs` can tell a live run from
one whose process died.

:func:`pause_for_test` is a test seam: with ``QUANTGATE_TEST_PAUSE_AT=<point>`` (or ``<point>:<n>`` for
the n-th time the point is reached in this process) the process writes a marker file and sleeps there, so
a test can kill it at an exact point. Points: ``logging`` (mid-way through logging the run),
``finish`` (inside the owner's finish, before the run is ended), ``after_register`` (after the model
version is registered, before it is promoted).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pipeline.config import ExperimentConfig, config_hash
from pipeline.errors import first_line
from pipeline.tracking import tags as T

if TYPE_CHECKING:
    from pipeline.tracking import RunLogger

logger = logging.getLogger(__name__)

PAUSE_ENV = "QUANTGATE_TEST_PAUSE_AT"
PAUSE_MARKER_ENV = "QUANTGATE_TEST_PAUSE_MARKER"
PAUSE_SECONDS = 300.0  # a paused process continues after this long, so a forgotten one does not hang forever
_hits: dict[str, int] = {}
_hits_lock = threading.Lock()


def pause_for_test(point: str) -> None:
    """Test seam: pause here when ``QUANTGATE_TEST_PAUSE_AT`` names ``point`` (see the module docstring).

    The marker file (``QUANTGATE_TEST_PAUSE_MARKER``, default ``$QUANTGATE_HOME/paused-<point>``) holds
    this process's id; the process then sleeps up to :data:`PAUSE_SECONDS` and carries on.

    Parameters
    ----------
    point : str
        The name of this point.
    """
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    with _hits_lock:
        _hits[point] = _hits.get(point, 0) + 1
        hit = _hits[point]
    if hit != (int(nth) if nth.isdigit() else 1):
        return
    from pipeline.settings import home

    marker = Path(os.environ.get(PAUSE_MARKER_ENV) or home() / f"paused-{point}")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)


def run_name(config: ExperimentConfig) -> str:
    """A meaningful, per-config unique run name: ``MSFT-1d-protect-3f2a9c``.

    Symbol, timeframe, the variant (the strategy mode, then a sweep's matrix choice such as
    ``holding_period=5``) and the first 6 characters of the config hash.
    """
    parts = [config.data.symbol, config.data.timeframe, config.strategy.mode.replace("_", "-")]
    parts += [f"{str(key).rsplit('.', 1)[-1]}={value}" for key, value in sorted(config.expansion.items())]
    parts.append(config_hash(config)[:6])
    return "-".join(str(part).replace(" ", "") for part in parts)


class ExperimentRun:
    """Own one experiment's MLflow run: open it on ``__enter__``, end it on ``__exit__``.

    The caller (a flow, task or CLI command) has pointed MLflow at the store with
    :func:`pipeline.tracking.configure_mlflow`.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment (its name is the MLflow experiment).
    parent_run_id : str, optional
        A sweep's run to nest under.
    tags : Mapping[str, Any], optional
        Tags to set when the run is opened.

    Examples
    --------
    >>> with ExperimentRun(config) as run:          # doctest: +SKIP
    ...     run.logger.log_metrics({"sharpe": 1.2})
    ...     run.stage("gate")
    """

    def __init__(
        self, config: ExperimentConfig, *, parent_run_id: str | None = None, tags: dict[str, Any] | None = None
    ) -> None:
        self.config = config
        self.parent_run_id = parent_run_id
        self._tags = dict(tags or {})
        self._logger: RunLogger | None = None

    # -- the run -----------------------------------------------------------------------------------------

    @property
    def logger(self) -> RunLogger:
        """The open run's logger (log params, tags, metrics, artifacts and the model through it)."""
        if self._logger is None:
            raise RuntimeError("ExperimentRun: the run is not open; use it as a context manager")
        return self._logger

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.logger.run_id

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment."""
        return self.config.name

    def stage(self, name: str) -> None:
        """Mark a stage boundary: tags ``quantgate.stage`` and a fresh heartbeat, also on the parent run.

        Parameters
        ----------
        name : str
            The stage about to start (``tuning``, ``logging``, ``gate``...).
        """
        from pipeline.tracking import RunLogger
        from pipeline.tracking.stale import now_text

        beat = now_text()
        self.logger.set_tags({T.STAGE: name, T.OWNER_HEARTBEAT: beat})
        if self.parent_run_id is not None:
            RunLogger(self.parent_run_id, "parent run", self.logger.client).set_tags({T.OWNER_HEARTBEAT: beat})

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> ExperimentRun:
        from pipeline.tracking import start_run

        self._logger = start_run(
            self.config.name,
            run_name=run_name(self.config),
            tags={T.STATUS: T.STATUS_RUNNING, **self._tags},
            nested=self.parent_run_id is not None,
            parent_run_id=self.parent_run_id,
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._logger is None:
            return
        if exc is None:
            self._finish()
            return
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        self._end_quietly(status, {T.STATUS: status.lower(), T.ERROR: first_line(exc)})

    def _finish(self) -> None:
        """End the run FINISHED; if that fails, try to mark it FAILED and raise the first failure."""
        try:
            self.logger.set_tags({T.STATUS: T.STATUS_COMPLETED, T.STAGE: "finished"})
            pause_for_test("finish")
            self.logger.end("FINISHED")
        except BaseException as exc:
            self._end_quietly("FAILED", {T.STATUS: "failed", T.ERROR: first_line(exc)})
            raise

    def _end_quietly(self, status: str, tags: dict[str, str]) -> None:
        """Record the error and end the run; failures here are logged, never raised over the original."""
        try:
            self.logger.set_tags(tags)
        except Exception as exc:  # noqa: BLE001 - the original error matters, not this one
            logger.warning("MLflow run %s: could not record the error: %s", self.run_id, first_line(exc))
        try:
            self.logger.end(status)
        except Exception as exc:  # noqa: BLE001 - idem; the run is reaped later as stale
            logger.warning("MLflow run %s: could not end it %s: %s", self.run_id, status, first_line(exc))
