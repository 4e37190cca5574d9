"""Tier 2 (performance after costs) rules on single backtest metrics; tier 1 reuses them for the trade count."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pipeline.gate._base import GateRule, check_finite, check_unit_interval, metric_value
from pipeline.gate._evidence import GateEvidence
from pipeline.gate._report import RuleResult


class MetricThresholdRule(GateRule):
    """Pass when a backtest metric is above a threshold.

    Parameters
    ----------
    metric
        Name of the backtest metric, for instance ``"sharpe"``.
    threshold
        The bound the metric must clear.
    op
        ``">"`` (strictly above) or ``">="``.
    tier
        Tier the rule belongs to.
    name
        Rule name; defaults to ``metric``.
    """

    def __init__(
        self,
        metric: str,
        threshold: float,
        *,
        op: Literal[">", ">="] = ">",
        tier: int = 2,
        name: str | None = None,
    ) -> None:
        super().__init__(name or metric, tier)
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must be a non-empty string (got {metric!r})")
        if op not in (">", ">="):
            raise ValueError(f"op must be '>' or '>=' (got {op!r})")
        self.metric = metric
        self.threshold = check_finite("threshold", threshold)
        self.op = op

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        threshold = f"{self.op} {self.threshold:g}"
        value, problem = metric_value(evidence, self.metric)
        if value is None:
            return self._result(None, threshold, False, problem or "")
        passed = value > self.threshold if self.op == ">" else value >= self.threshold
        relation = "clears" if passed else "does not clear"
        return self._result(value, threshold, passed, f"{self.metric} = {value:.4g} {relation} {threshold}")


class MetricBandRule(GateRule):
    """Pass when a backtest metric lies in a closed band ``[low, high]``.

    Parameters
    ----------
    metric
        Name of the backtest metric, for instance ``"win_rate"``.
    low, high
        The band's bounds, ``low <= high``.
    tier
        Tier the rule belongs to.
    name
        Rule name; defaults to ``metric``.
    """

    def __init__(self, metric: str, low: float, high: float, *, tier: int = 2, name: str | None = None) -> None:
        super().__init__(name or metric, tier)
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must be a non-empty string (got {metric!r})")
        self.metric = metric
        self.low = check_finite("low", low)
        self.high = check_finite("high", high)
        if self.low > self.high:
            raise ValueError(f"low ({low!r}) must not exceed high ({high!r})")

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        threshold = f"in [{self.low:g}, {self.high:g}]"
        value, problem = metric_value(evidence, self.metric)
        if value is None:
            return self._result(None, threshold, False, problem or "")
        passed = self.low <= value <= self.high
        if passed:
            detail = f"{self.metric} = {value:.4g} inside the band"
        else:
            side = "below" if value < self.low else "above"
            detail = f"{self.metric} = {value:.4g} {side} the band (implausible for a real edge)"
        return self._result(value, threshold, passed, detail)


class WinRateRule(MetricBandRule):
    """Advisory: flag the run for review when the share of winning trades lies outside the band.

    A win rate far outside ``[win_rate_min, win_rate_max]`` is a leakage smell, not a performance requirement:
    the rule always passes and sets ``review`` on its result (the report lists it under "flagged for review").

    Parameters
    ----------
    win_rate_min, win_rate_max
        The band, inside ``[0, 1]``.
    """

    def __init__(self, win_rate_min: float, win_rate_max: float) -> None:
        check_unit_interval("win_rate_min", win_rate_min)
        check_unit_interval("win_rate_max", win_rate_max)
        super().__init__("win_rate", win_rate_min, win_rate_max, tier=2)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        result = super().evaluate(evidence)
        if result.passed:
            return result
        detail = f"review: {result.detail}; advisory (a leakage smell), not a failure"
        return dataclasses.replace(
            result, passed=True, review=True, threshold=f"{result.threshold} (advisory)", detail=detail
        )


class HoldingPeriodsRule(GateRule):
    """Pass when the test window holds at least ``minimum`` non-overlapping holding periods.

    Independent evidence is ``test bars // holding_period``, whatever the strategy's turnover: a correct signal
    that holds one position for months is not punished (unlike a count of closed round trips).
    """

    def __init__(self, minimum: int) -> None:
        super().__init__("min_holding_periods", 1)
        if isinstance(minimum, bool) or int(minimum) != minimum or minimum < 0:
            raise ValueError(f"minimum must be a whole number >= 0 (got {minimum!r})")
        self.minimum = int(minimum)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        value = evidence.holding_periods
        detail = f"{evidence.n_bars} test bars / holding period {evidence.holding_period} = {value} independent periods"
        return self._result(value, f">= {self.minimum}", value >= self.minimum, detail)


class BeatBuyAndHoldRule(GateRule):
    """Pass when the strategy's excess return over buy-and-hold is positive.

    Parameters
    ----------
    required
        When False the rule is informational: it reports the excess return and always passes.
    """

    def __init__(self, required: bool = True) -> None:
        super().__init__("beats_buy_and_hold", 2)
        if not isinstance(required, bool):
            raise ValueError(f"required must be a bool (got {required!r})")
        self.required = required

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        threshold = "> 0" if self.required else "> 0 (not required)"
        value, problem = metric_value(evidence, "excess_return")
        if value is None:
            return self._result(None, threshold, not self.required, problem or "")
        beats = value > 0.0
        detail = f"excess return over buy-and-hold {value:+.4g}" + ("" if beats else " (does not beat buy-and-hold)")
        if not self.required:
            detail += "; informational, require_beat_buy_and_hold is false"
        return self._result(value, threshold, beats or not self.required, detail)
