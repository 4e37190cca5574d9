"""The search space of a ``tuning:`` block, turned into Optuna suggestions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.config import SearchParam, TuningConfig
from pipeline.errors import TuningError

if TYPE_CHECKING:
    import optuna

#: Booster parameters a search space may not set: quantgate owns them (target, seed, device).
RESERVED_PARAMS: frozenset[str] = frozenset({"objective", "num_class", "seed", "device", "eval_metric"})

#: Metrics where smaller is better.
_MINIMIZED_METRICS: frozenset[str] = frozenset({"logloss"})


def study_direction(tuning: TuningConfig) -> str:
    """Return the study direction: the configured one, else ``minimize`` for logloss and ``maximize`` otherwise.

    Parameters
    ----------
    tuning : TuningConfig
        The ``tuning:`` section.

    Returns
    -------
    str
        ``"minimize"`` or ``"maximize"``.
    """
    if tuning.direction is not None:
        return tuning.direction
    return "minimize" if tuning.metric in _MINIMIZED_METRICS else "maximize"


def check_search_space(space: Mapping[str, SearchParam]) -> None:
    """Reject search spaces Optuna or the trainer cannot honour, naming the offending parameter.

    Parameters
    ----------
    space : Mapping[str, SearchParam]
        Parameter name to its dimension.

    Raises
    ------
    TuningError
        If the space is empty, names a reserved booster parameter, has an int dimension with
        non-integer bounds, or a categorical choice that is not None, bool, int, float or str.
    """
    if not space:
        raise TuningError("tuning.search_space is empty: name at least one XGBoost parameter to search")
    for name, dim in space.items():
        if name in RESERVED_PARAMS:
            raise TuningError(f"tuning.search_space.{name}: quantgate sets this parameter itself; it cannot be tuned")
        if dim.type == "int":
            for bound in (dim.low, dim.high):
                if bound is None or float(bound) != int(bound):
                    raise TuningError(f"tuning.search_space.{name}: int bounds must be whole numbers (got {bound})")
        if dim.type == "categorical":
            for choice in dim.choices or []:
                if choice is not None and not isinstance(choice, bool | int | float | str):
                    raise TuningError(
                        f"tuning.search_space.{name}: choice {choice!r} is not None, bool, int, float or str"
                    )


def suggest_params(trial: optuna.Trial, space: Mapping[str, SearchParam]) -> dict[str, Any]:
    """Sample one value per dimension of ``space`` from ``trial``.

    Parameters
    ----------
    trial : optuna.Trial
        The running trial.
    space : Mapping[str, SearchParam]
        Parameter name to its dimension (``float``/``int`` with ``low``, ``high``, ``log``; ``categorical``
        with ``choices``).

    Returns
    -------
    dict[str, Any]
        XGBoost parameter name to the sampled value.
    """
    params: dict[str, Any] = {}
    for name, dim in space.items():
        if dim.type == "float":
            params[name] = trial.suggest_float(name, float(dim.low), float(dim.high), log=dim.log)  # type: ignore[arg-type]
        elif dim.type == "int":
            params[name] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)  # type: ignore[arg-type]
        else:
            params[name] = trial.suggest_categorical(name, list(dim.choices or []))
    return params
