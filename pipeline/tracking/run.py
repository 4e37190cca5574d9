"""quantgate's run record in MLflow: the config, code, data, gate verdict and model of one experiment run.

:func:`start_run` creates the run (owner-tagged so a dead process's run can be reaped) and returns a
:class:`RunLogger`: the generic :class:`pipeline.tracking.mlflow_run.MlflowRunLogger` plus quantgate's own
records. Only the experiment config becomes params; environment variables are never logged.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE

from pipeline.config import ExperimentConfig, config_hash, flatten_config
from pipeline.errors import TrackingError, first_line
from pipeline.tracking import tags as T
from pipeline.tracking.fingerprint import FINGERPRINT_SCHEME, data_fingerprint
from pipeline.tracking.mlflow_run import (
    CURRENT_RUN,
    PARAM_VALUE_LIMIT,
    TAG_VALUE_LIMIT,
    TRUNCATION_MARK,
    MlflowRunLogger,
    _jsonable,
    finite_metrics,
    metric_name,
)
from pipeline.tracking.mlflow_setup import ensure_experiment
from pipeline.tracking.model import LoggedModelRef, default_pip_requirements, log_xgboost_model
from pipeline.tracking.search import find_finished_run
from pipeline.tracking.stale import owner_tags

if TYPE_CHECKING:
    import xgboost as xgb

__all__ = [
    "PARAM_VALUE_LIMIT",
    "TAG_VALUE_LIMIT",
    "TRUNCATION_MARK",
    "LoggedModelRef",
    "RunLogger",
    "default_pip_requirements",
    "find_finished_run",
    "finite_metrics",
    "git_state",
    "metric_name",
    "start_run",
]

_UNKNOWN = "unknown"


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


class RunLogger(MlflowRunLogger):
    """Log one quantgate experiment run: the generic logger plus config, git, data, gate and model records.

    Create it with :func:`start_run`.
    """

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

    def log_xgboost_model(
        self,
        booster: xgb.Booster,
        input_example: pd.DataFrame,
        artifact_name: str = "model",
        pip_requirements: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> LoggedModelRef:
        """Log an XGBoost booster with signature and example (:func:`pipeline.tracking.model.log_xgboost_model`)."""
        return log_xgboost_model(self, booster, input_example, artifact_name, pip_requirements, metadata)


def _bool_text(value: Any) -> str:
    if isinstance(value, str):
        return value.lower()
    return "true" if bool(value) else "false"


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
        enclosing = CURRENT_RUN.get()
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
