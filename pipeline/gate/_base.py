"""The gate's plug-in point: a rule is one object with one decision method."""

from __future__ import annotations

import abc
import math
import re
from typing import Any

from pipeline.gate._evidence import GateEvidence
from pipeline.gate._report import TIER_NAMES, RuleResult

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class GateRule(abc.ABC):
    """Base of every gate rule.

    A subclass validates its parameters in ``__init__`` (raising ValueError on nonsense) and implements
    :meth:`evaluate`. A rule never raises on bad or missing evidence; it fails with a detail saying why.

    Parameters
    ----------
    name
        Stable identifier: lower-case letters, digits and underscores (it becomes an MLflow tag suffix).
    tier
        1 (sanity), 2 (performance) or 3 (statistics).
    """

    def __init__(self, name: str, tier: int) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"rule name must match {_NAME.pattern} (got {name!r})")
        if tier not in TIER_NAMES:
            raise ValueError(f"tier must be one of {sorted(TIER_NAMES)} (got {tier!r})")
        self.name = name
        self.tier = tier

    @abc.abstractmethod
    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        """Judge the evidence.

        Parameters
        ----------
        evidence
            The run's plain inputs.

        Returns
        -------
        RuleResult
            The verdict, always (never an exception for a bad model).
        """

    def _result(self, value: float | str | None, threshold: str, passed: bool, detail: str) -> RuleResult:
        if isinstance(value, bool):
            value = str(value).lower()
        elif value is not None and not isinstance(value, str):
            value = float(value)
        return RuleResult(
            tier=self.tier,
            tier_name=TIER_NAMES[self.tier],
            name=self.name,
            value=value,
            threshold=threshold,
            passed=bool(passed),
            detail=detail,
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in {"name", "tier"})
        return f"{type(self).__name__}({params})"


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a float, raising ValueError unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number (got {value!r})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite (got {value!r})")
    return float(value)


def check_unit_interval(name: str, value: Any) -> float:
    """Return ``value`` as a float, raising ValueError unless it lies in ``[0, 1]``."""
    number = check_finite(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (got {value!r})")
    return number


def metric_value(evidence: GateEvidence, metric: str) -> tuple[float | None, str | None]:
    """Look a metric up: ``(value, None)`` when it is a finite number, else ``(None, reason)``."""
    if metric not in evidence.metrics:
        return None, f"metric {metric!r} missing from the backtest metrics"
    raw = evidence.metrics[metric]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"metric {metric!r} is not a number ({raw!r})"
    if not math.isfinite(value):
        return None, f"metric {metric!r} is not finite ({value!r})"
    return value, None
