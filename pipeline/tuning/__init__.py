"""Hyperparameter tuning: an Optuna study per experiment, scored on the validation segment only.

:func:`tune` (:mod:`.study`) runs, resumes or joins the study on quantgate's database (:mod:`.storage`) and returns a
:class:`TuningResult` (best parameters, finished-trial count, the trials' validation Sharpe ratios).
:class:`XGBoostPruningCallback` reports XGBoost's per-round validation metric to a trial and prunes it.
"""

from pipeline.errors import TuningError
from pipeline.tuning.objective import (
    SURPLUS_ATTR,
    VAL_SHARPE_ATTR,
    WORKER_ATTR,
    TuningView,
    ValidationScore,
    score_on_validation,
)
from pipeline.tuning.pruning import XGBoostPruningCallback, higher_is_better
from pipeline.tuning.space import check_search_space, study_direction, suggest_params
from pipeline.tuning.storage import open_storage
from pipeline.tuning.study import TuningResult, default_study_name, tune

__all__ = [
    "SURPLUS_ATTR",
    "VAL_SHARPE_ATTR",
    "WORKER_ATTR",
    "TuningError",
    "TuningResult",
    "TuningView",
    "ValidationScore",
    "XGBoostPruningCallback",
    "check_search_space",
    "default_study_name",
    "higher_is_better",
    "open_storage",
    "score_on_validation",
    "study_direction",
    "suggest_params",
    "tune",
]
