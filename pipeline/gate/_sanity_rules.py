"""Tier 1 (sanity) rules: the run produced what a model needs to be judged and rebuilt."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pipeline.gate._base import GateRule, check_unit_interval
from pipeline.gate._evidence import GateEvidence
from pipeline.gate._report import RuleResult

GATE_METRICS: tuple[str, ...] = ("total_return", "sharpe", "win_rate", "n_trades", "excess_return")
"""Backtest metrics the default gate reads; they must be present and finite."""


class ModelArtifactRule(GateRule):
    """Pass when the trained model was saved."""

    def __init__(self) -> None:
        super().__init__("model_artifact", 1)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        present = bool(evidence.has_model_artifact)
        detail = "model artifact saved" if present else "no model artifact was saved for this run"
        return self._result("present" if present else "missing", "present", present, detail)


class FeatureMetadataRule(GateRule):
    """Pass when the feature metadata needed to rebuild the features was saved."""

    def __init__(self) -> None:
        super().__init__("feature_metadata", 1)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        present = bool(evidence.has_feature_metadata)
        detail = "feature metadata saved" if present else "no feature metadata was saved; features cannot be rebuilt"
        return self._result("present" if present else "missing", "present", present, detail)


class FiniteMetricsRule(GateRule):
    """Pass when every backtest metric is a finite number and the required ones are present.

    Parameters
    ----------
    required
        Metric names that must be present (missing ones count as failures).
    """

    def __init__(self, required: Iterable[str] = GATE_METRICS) -> None:
        super().__init__("metrics_finite", 1)
        if isinstance(required, str):
            raise ValueError(f"required must be a collection of metric names, not the string {required!r}")
        self.required = tuple(required)
        if any(not isinstance(name, str) or not name for name in self.required):
            raise ValueError(f"required metric names must be non-empty strings (got {self.required!r})")

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        bad = []
        for name, raw in evidence.metrics.items():
            try:
                finite = math.isfinite(float(raw))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                bad.append(f"{name}={raw!r}")
        missing = [name for name in self.required if name not in evidence.metrics]
        problems = len(bad) + len(missing)
        if not evidence.metrics:
            detail = "no backtest metrics were given"
            problems = max(problems, 1)
        elif problems:
            parts = []
            if bad:
                parts.append("not finite: " + ", ".join(bad))
            if missing:
                parts.append("missing: " + ", ".join(missing))
            detail = "; ".join(parts)
        else:
            detail = f"all {len(evidence.metrics)} metrics finite"
        return self._result(problems, "== 0 missing or non-finite", problems == 0, detail)


class CoverageRule(GateRule):
    """Pass when the share of expected bars present reaches ``min_coverage``.

    Parameters
    ----------
    min_coverage
        Minimum coverage in ``[0, 1]``.
    """

    def __init__(self, min_coverage: float) -> None:
        super().__init__("coverage", 1)
        self.min_coverage = check_unit_interval("min_coverage", min_coverage)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        coverage = float(evidence.coverage)
        threshold = f">= {self.min_coverage:g}"
        if not math.isfinite(coverage):
            return self._result(None, threshold, False, f"coverage is not finite ({coverage!r})")
        passed = coverage >= self.min_coverage
        detail = f"{coverage:.2%} of the expected bars present" + ("" if passed else f", below {self.min_coverage:.2%}")
        return self._result(coverage, threshold, passed, detail)
