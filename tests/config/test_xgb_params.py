"""The table of XGBoost parameters that `model.params` is checked against matches the installed XGBoost."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from pipeline.config._xgb_params import KNOWN, RESERVED, param_problem

_SAMPLE: dict[str, Any] = {"int": 2, "float": 0.5, "bool": True, "constraints": "(0,0)"}
_BOOSTER_OF = {
    "sample_type": "dart",
    "normalize_type": "dart",
    "rate_drop": "dart",
    "one_drop": "dart",
    "skip_drop": "dart",
    "feature_selector": "gblinear",
    "top_k": "gblinear",
    "updater": "gblinear",
}


def _value(name: str) -> Any:
    spec = KNOWN[name]
    if spec.choices:
        return spec.choices[0]
    if name == "updater":
        return "coord_descent"
    if name == "interaction_constraints":
        return "[[0, 1]]"
    if spec.kind == "int" and spec.high is not None and spec.high < _SAMPLE["int"]:
        return int(spec.high)
    return _SAMPLE[spec.kind]


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_parameter_when_given_to_xgboost_is_used(name: str) -> None:
    value = _value(name)
    assert param_problem(name, value) is None
    params = {"validate_parameters": True, "objective": "binary:logistic", "nthread": 1, name: value}
    if name in _BOOSTER_OF:
        params["booster"] = _BOOSTER_OF[name]
        if params["booster"] == "gblinear" and name != "updater":
            params["updater"] = "coord_descent"
    rng = np.random.default_rng(0)
    data = xgb.DMatrix(rng.random((40, 2)), label=(rng.random(40) > 0.5).astype(int))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xgb.train(params, data, num_boost_round=2)
    unused = [str(w.message) for w in caught if "are not used" in str(w.message)]
    assert unused == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("max_depth", "deep", "must be an integer"),
        ("max_depth", True, "must be an integer"),
        ("eta", 0, "must be > 0"),
        ("subsample", 1.5, "must be <= 1"),
        ("gamma", float("inf"), "must be finite"),
        ("tree_method", "gpu_hist", "must be one of"),
        ("objective", "reg:squarederror", "quantgate sets this parameter itself"),
        ("maxdepth", 3, "not a known XGBoost booster parameter"),
    ],
)
def test_param_problem_when_value_is_wrong_says_why(name: str, value: Any, problem: str) -> None:
    assert problem in (param_problem(name, value) or "")


def test_reserved_and_known_parameters_do_not_overlap() -> None:
    assert not set(RESERVED) & set(KNOWN)
