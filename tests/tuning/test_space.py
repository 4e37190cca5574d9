"""Search spaces and study directions."""

from __future__ import annotations

import optuna
import pytest

from pipeline.config import SearchParam, TuningConfig
from pipeline.errors import TuningError
from pipeline.tuning import check_search_space, study_direction, suggest_params


def test_study_direction_when_not_configured_minimizes_logloss_and_maximizes_the_rest() -> None:
    assert study_direction(TuningConfig(metric="logloss")) == "minimize"
    for metric in ("sharpe", "total_return", "auc", "accuracy"):
        assert study_direction(TuningConfig(metric=metric)) == "maximize"
    assert study_direction(TuningConfig(metric="logloss", direction="maximize")) == "maximize"


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "empty"),
        ({"seed": SearchParam(type="int", low=1, high=5)}, "tuning.search_space.seed"),
        ({"max_depth": SearchParam(type="int", low=1.5, high=5)}, "whole numbers"),
        ({"grow_policy": SearchParam(type="categorical", choices=[["a"], "b"])}, "grow_policy"),
    ],
)
def test_check_search_space_when_invalid_names_the_parameter(space: dict, message: str) -> None:
    with pytest.raises(TuningError, match=message):
        check_search_space(space)


def test_suggest_params_stays_within_every_dimension() -> None:
    space = {
        "eta": SearchParam(type="float", low=1e-3, high=0.3, log=True),
        "max_depth": SearchParam(type="int", low=2, high=6),
        "grow_policy": SearchParam(type="categorical", choices=["depthwise", "lossguide"]),
    }
    check_search_space(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        params = suggest_params(study.ask(), space)
        assert 1e-3 <= params["eta"] <= 0.3
        assert isinstance(params["max_depth"], int) and 2 <= params["max_depth"] <= 6
        assert params["grow_policy"] in {"depthwise", "lossguide"}
    assert study.trials[0].distributions["eta"].log
