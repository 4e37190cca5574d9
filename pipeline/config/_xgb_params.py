"""XGBoost booster parameters an experiment may set in ``model.params``, with their types and ranges.

Checked when the file is loaded, so ``max_depth: deep`` fails ``quantgate check`` instead of a training task.
XGBoost itself is not imported here: the table follows the "XGBoost Parameters" page of XGBoost 3.x
(general and tree-booster parameters, plus DART and linear-booster ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """One booster parameter: its kind and, for numbers, an inclusive range; for strings, the choices."""

    kind: str  # "int" | "float" | "str" | "bool" | "constraints"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()


_UNIT = ParamSpec("float", 0.0, 1.0, low_open=True)  # (0, 1]
_RATE = ParamSpec("float", 0.0, 1.0)  # [0, 1]
_NONNEG = ParamSpec("float", 0.0)

#: Parameters quantgate sets itself from other fields; they may not appear in ``model.params``.
RESERVED: dict[str, str] = {
    "objective": "set from target.kind",
    "num_class": "set from target.kind",
    "eval_metric": "set from target.kind",
    "seed": "use model.seed",
    "random_state": "use model.seed",
    "device": "use model.device",
}

KNOWN: dict[str, ParamSpec] = {
    "booster": ParamSpec("str", choices=("gbtree", "gblinear", "dart")),
    "verbosity": ParamSpec("int", 0, 3),
    "nthread": ParamSpec("int", 0, 1024),
    "disable_default_eval_metric": ParamSpec("bool"),
    "validate_parameters": ParamSpec("bool"),
    "eta": ParamSpec("float", 0.0, 1.0, low_open=True),
    "learning_rate": ParamSpec("float", 0.0, 1.0, low_open=True),
    "gamma": _NONNEG,
    "min_split_loss": _NONNEG,
    "max_depth": ParamSpec("int", 0, 64),
    "min_child_weight": _NONNEG,
    "max_delta_step": _NONNEG,
    "subsample": _UNIT,
    "sampling_method": ParamSpec("str", choices=("uniform", "gradient_based")),
    "colsample_bytree": _UNIT,
    "colsample_bylevel": _UNIT,
    "colsample_bynode": _UNIT,
    "lambda": _NONNEG,
    "reg_lambda": _NONNEG,
    "alpha": _NONNEG,
    "reg_alpha": _NONNEG,
    "tree_method": ParamSpec("str", choices=("auto", "exact", "approx", "hist")),
    "scale_pos_weight": ParamSpec("float", 0.0, low_open=True),
    "refresh_leaf": ParamSpec("int", 0, 1),
    "process_type": ParamSpec("str", choices=("default", "update")),
    "grow_policy": ParamSpec("str", choices=("depthwise", "lossguide")),
    "max_leaves": ParamSpec("int", 0, 1 << 20),
    "max_bin": ParamSpec("int", 2, 1 << 16),
    "num_parallel_tree": ParamSpec("int", 1, 1000),
    "monotone_constraints": ParamSpec("constraints"),
    "interaction_constraints": ParamSpec("constraints"),
    "multi_strategy": ParamSpec("str", choices=("one_output_per_tree", "multi_output_tree")),
    "max_cat_to_onehot": ParamSpec("int", 1, 1 << 16),
    "max_cat_threshold": ParamSpec("int", 1, 1 << 16),
    "max_cached_hist_node": ParamSpec("int", 1, 1 << 30),
    "base_score": ParamSpec("float"),
    # DART booster
    "sample_type": ParamSpec("str", choices=("uniform", "weighted")),
    "normalize_type": ParamSpec("str", choices=("tree", "forest")),
    "rate_drop": _RATE,
    "one_drop": ParamSpec("int", 0, 1),
    "skip_drop": _RATE,
    # linear booster
    "updater": ParamSpec("str"),
    "feature_selector": ParamSpec("str", choices=("cyclic", "shuffle", "random", "greedy", "thrifty")),
    "top_k": ParamSpec("int", 0, 1 << 20),
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def name_problem(name: str) -> str | None:
    """Why ``name`` may not be set in an experiment file, or None when it may."""
    if name in RESERVED:
        return f"quantgate sets this parameter itself ({RESERVED[name]})"
    if name not in KNOWN:
        return "not a known XGBoost booster parameter"
    return None


def param_problem(name: str, value: Any) -> str | None:
    """Why ``name: value`` is not a valid booster parameter, or None when it is."""
    problem = name_problem(name)
    if problem is not None:
        return problem
    spec = KNOWN[name]
    kind = _kind_of(value)
    if spec.kind == "constraints":
        if not isinstance(value, str | list):
            return f"must be a string or a list (got {value!r})"
        return None
    if spec.kind == "int" and kind != "int":
        return f"must be an integer (got {value!r})"
    if spec.kind == "float" and kind not in {"int", "float"}:
        return f"must be a number (got {value!r})"
    if spec.kind == "bool" and kind != "bool":
        return f"must be true or false (got {value!r})"
    if spec.kind == "str":
        if kind != "str":
            return f"must be a string (got {value!r})"
        if spec.choices and value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)} (got {value!r})"
        return None
    if kind in {"int", "float"}:
        number = float(value)
        if not math.isfinite(number):
            return f"must be finite (got {value!r})"
        if spec.low is not None and (number <= spec.low if spec.low_open else number < spec.low):
            return f"must be {'>' if spec.low_open else '>='} {spec.low:g} (got {value!r})"
        if spec.high is not None and number > spec.high:
            return f"must be <= {spec.high:g} (got {value!r})"
    return None


def kind_of_param(name: str) -> str | None:
    """The kind (``int``, ``float``, ...) of a known parameter, or None."""
    spec = KNOWN.get(name)
    return spec.kind if spec is not None else None
