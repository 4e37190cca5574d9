"""Every MLflow tag name quantgate writes or reads, in one place.

Writers and readers (run logging, the gate, the registry, sweeps, leaderboards, the stale-run reaper)
import the names from here instead of spelling them. Boolean tags are ``"true"``/``"false"``.

Gate results use one vocabulary: ``gate.passed``, ``gate.tier.<k>`` (k = 1, 2, 3) and
``gate.rule.<name>``, all ``"true"``/``"false"``.

This module imports nothing, so anything can use it without loading MLflow.
"""

from __future__ import annotations

# -- what a run computed (the resume key) and where it stands --------------------------------------------
CONFIG_HASH = "quantgate.config_hash"
CODE_VERSION = "quantgate.code_version"
EXPERIMENT = "quantgate.experiment"
EXPANSION = "quantgate.expansion"
SYMBOL = "quantgate.symbol"
TIMEFRAME = "quantgate.timeframe"
STATUS = "quantgate.status"  # running | completed | failed | killed (lower-case MLflow status)
STAGE = "quantgate.stage"  # the last stage boundary the owner passed
ERROR = "quantgate.error"  # first line of the error that failed the run
SKIPPED_METRICS = "quantgate.skipped_metrics"
ROLE = "quantgate.role"  # tuning trial runs: "trial"
DATA_FAMILY = "quantgate.data_family"  # source|symbol|timeframe|target kind: runs whose trials deflate each other
FAMILY_FIRST_BAR = "quantgate.family.first_bar"  # the run's first and last bar (UTC ISO), for window overlap
FAMILY_LAST_BAR = "quantgate.family.last_bar"
OWN_TRIALS = "quantgate.own_trials"  # trials this run itself tried: 1, or the Optuna study's trial count

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"

# -- who owns a RUNNING run (for reaping runs of dead processes) -----------------------------------------
OWNER_PID = "quantgate.owner.pid"
OWNER_HOST = "quantgate.owner.host"
OWNER_STARTED = "quantgate.owner.started"  # the owner's start time (Linux clock ticks), to tell a reused pid
OWNER_HEARTBEAT = "quantgate.owner.heartbeat"  # UTC ISO time of the last stage boundary
REAPED_BY = "quantgate.reaped_by"  # why a stale run was marked KILLED

# -- sweeps ----------------------------------------------------------------------------------------------
SWEEP_FAMILY = "quantgate.sweep_family"
SWEEP_FOLDER = "quantgate.sweep_folder"

# -- data ------------------------------------------------------------------------------------------------
DATA_FINGERPRINT = "data.fingerprint"
DATA_SOURCE = "data.source"
DATA_SYMBOL = "data.symbol"
DATA_TIMEFRAME = "data.timeframe"
DATA_START = "data.start"
DATA_END = "data.end"
DATA_ROWS = "data.rows"
DATA_ASSET_CLASS = "data.asset_class"
SPLIT_METHOD = "split.method"

# -- model and code --------------------------------------------------------------------------------------
MODEL_DEVICE = "model.device"
MODEL_DEVICE_REASON = "model.device_reason"
GIT_COMMIT = "git.commit"
GIT_DIRTY = "git.dirty"
USER_PREFIX = "user."  # the experiment file's own ``tags:``

# -- gate ------------------------------------------------------------------------------------------------
GATE_PREFIX = "gate."
GATE_PASSED = "gate.passed"
GATE_OVERRIDDEN = "gate.overridden"
GATE_N_TRIALS = "gate.n_trials"
GATE_N_TRIALS_SOURCE = "gate.n_trials_source"
GATE_FAILED_RULES = "gate.failed_rules"
GATE_DSR = "gate.dsr"  # also a metric
GATE_POLICY_PATH = "gate.policy_path"  # the gate policy file in force for the run
GATE_POLICY_HASH = "gate.policy_hash"  # sha256 (16 hex) of that file's bytes


# -- experiments -----------------------------------------------------------------------------------------
EXPERIMENT_KIND = "mlflow.experimentKind"  # MLflow's own experiment tag; the UI picks its start page by it
EXPERIMENT_KIND_ML = "custom_model_development"  # open on the runs table (not "genai_development")

SHARED_VIEW_PREFIX = "mlflow.sharedViewState."  # MLflow UI's saved table views: experiment tag prefix + key
COMPARE_VIEW = "quantgate"  # open ``#/experiments/<id>/runs?viewStateShareKey=quantgate``

# -- first-class metrics (sortable columns in the MLflow runs table and the leaderboard) -----------------
# The backtest logs sharpe, total_return, max_drawdown, n_trades, ... under their own names; the gate adds
# these top-level copies of its verdict and statistics next to its ``gate.*`` metrics.
METRIC_GATE_PASSED = "gate_passed"  # 1.0 passed, 0.0 failed
METRIC_PSR = "psr"
METRIC_DSR = "dsr"
METRIC_N_TRIALS = "n_trials"
METRIC_SHARPE = "sharpe"
METRIC_TOTAL_RETURN = "total_return"
METRIC_MAX_DRAWDOWN = "max_drawdown"
METRIC_N_TRADES = "n_trades"
KEY_METRICS: tuple[str, ...] = (
    METRIC_GATE_PASSED,
    METRIC_SHARPE,
    METRIC_TOTAL_RETURN,
    METRIC_MAX_DRAWDOWN,
    METRIC_N_TRADES,
    METRIC_PSR,
    METRIC_DSR,
)


def gate_tier(tier: int | str) -> str:
    """Return the tag of one gate tier's verdict: ``gate.tier.<tier>``."""
    return f"gate.tier.{tier}"


def gate_rule(name: str) -> str:
    """Return the tag of one gate rule's verdict: ``gate.rule.<name>``."""
    return f"gate.rule.{name}"


def bool_text(value: bool) -> str:
    """Return a boolean as quantgate's tag value: ``"true"`` or ``"false"``."""
    return "true" if value else "false"


# -- registry --------------------------------------------------------------------------------------------
REGISTRY_VERSION = "registry.version"  # the model version registered from the run, or "none"

# -- tuning ----------------------------------------------------------------------------------------------
OPTUNA_STUDY = "optuna.study"
OPTUNA_STORAGE = "optuna.storage"
OPTUNA_METRIC = "optuna.metric"
OPTUNA_DIRECTION = "optuna.direction"
OPTUNA_BEST_TRIAL = "optuna.best_trial_number"
OPTUNA_TRIAL_NUMBER = "optuna.trial_number"
OPTUNA_STATE = "optuna.state"
OPTUNA_ERROR = "optuna.error"
