"""Verdicts: one :class:`RuleResult` per rule, collected in a :class:`GateReport`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pipeline.tracking import tags as T

TIER_NAMES: dict[int, str] = {1: "sanity", 2: "performance", 3: "statistics"}
"""The three tiers, in the order they are reported."""


def _json_value(value: Any) -> Any:
    """Return ``value`` as a JSON-safe scalar: non-finite floats become None, NumPy scalars Python ones."""
    if value is None or isinstance(value, str | bool):
        return value
    if hasattr(value, "item"):  # NumPy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def _format_value(value: float | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule.

    Attributes
    ----------
    tier
        1 (sanity), 2 (performance) or 3 (statistics).
    tier_name
        The tier's name.
    name
        Stable identifier of the rule (also its reason code and the suffix of its MLflow tag and metric).
    value
        What was measured; None when it could not be measured.
    threshold
        The condition in words, for instance ``">= 0.95"`` or ``"in [0.35, 0.85]"``.
    passed
        The verdict.
    detail
        One line explaining the verdict: inputs, units and, on failure, what is wrong.
    """

    tier: int
    tier_name: str
    name: str
    value: float | str | None
    threshold: str
    passed: bool
    detail: str
    review: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-safe dict (non-finite values become None)."""
        return {
            "tier": self.tier,
            "tier_name": self.tier_name,
            "name": self.name,
            "value": _json_value(self.value),
            "threshold": self.threshold,
            "passed": bool(self.passed),
            "detail": self.detail,
            "review": bool(self.review),
        }


@dataclass(frozen=True)
class GateReport:
    """Every rule's verdict on one experiment run, with the number of trials it was selected from.

    A failed gate is a report with ``passed == False``, never an exception.

    Attributes
    ----------
    rules
        One result per rule, in tier order.
    n_trials
        Number of trials the deflated statistics accounted for.
    n_trials_source
        Where that number came from.
    n_bars
        Bars in the test segment the statistics were computed on.
    periods_per_year
        Bars per year used to annualise.
    seed
        Seed of the bootstrap.
    """

    rules: list[RuleResult]
    n_trials: int
    n_trials_source: str
    n_bars: int | None = None
    periods_per_year: float | None = None
    seed: int | None = None

    @property
    def passed(self) -> bool:
        """Whether every rule passed (False for a report without rules)."""
        return bool(self.rules) and all(rule.passed for rule in self.rules)

    @property
    def review_rules(self) -> list[RuleResult]:
        """Advisory rules that flag the run for a human's review (they do not fail the gate)."""
        return [rule for rule in self.rules if rule.review]

    @property
    def failed_rules(self) -> list[RuleResult]:
        """The rules that failed, in report order."""
        return [rule for rule in self.rules if not rule.passed]

    def tier_passed(self, tier: int) -> bool:
        """Return whether every rule of ``tier`` passed.

        Parameters
        ----------
        tier
            1, 2 or 3.

        Returns
        -------
        bool
            True when all rules of the tier passed (also when the tier has no rules).

        Raises
        ------
        ValueError
            If ``tier`` is not a known tier.
        """
        if tier not in TIER_NAMES:
            raise ValueError(f"tier must be one of {sorted(TIER_NAMES)} (got {tier!r})")
        return all(rule.passed for rule in self.rules if rule.tier == tier)

    def _tiers(self) -> list[int]:
        return [tier for tier in TIER_NAMES if any(rule.tier == tier for rule in self.rules)]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-safe dict (NaN and infinities become None)."""
        return {
            "passed": self.passed,
            "tiers": {
                str(tier): {"name": TIER_NAMES[tier], "passed": self.tier_passed(tier)} for tier in self._tiers()
            },
            "n_trials": int(self.n_trials),
            "n_trials_source": self.n_trials_source,
            "n_bars": self.n_bars,
            "periods_per_year": _json_value(self.periods_per_year),
            "seed": self.seed,
            "failed_rules": [rule.name for rule in self.failed_rules],
            "review_rules": [rule.name for rule in self.review_rules],
            "rules": [rule.to_dict() for rule in self.rules],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as strict JSON (no NaN literals)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_markdown(self) -> str:
        """Return the report as Markdown: the verdict, the trial count and its source, a table per tier."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"# Gate: {verdict}", ""]
        lines.append(f"Trials accounted for: N = {self.n_trials} (source: {self.n_trials_source}).")
        if self.n_bars is not None and self.periods_per_year:
            years = self.n_bars / self.periods_per_year
            lines.append(
                f"Test segment: {self.n_bars} bars, {years:.2f} years at {self.periods_per_year:g} bars per year."
            )
        if self.failed_rules:
            lines.append("Failed rules: " + ", ".join(f"`{rule.name}`" for rule in self.failed_rules) + ".")
        if self.review_rules:
            lines.append("Flagged for review: " + ", ".join(f"`{rule.name}`" for rule in self.review_rules) + ".")
        for tier in self._tiers():
            tier_verdict = "passed" if self.tier_passed(tier) else "failed"
            lines += [
                "",
                f"## Tier {tier}: {TIER_NAMES[tier]} ({tier_verdict})",
                "",
                "| rule | value | threshold | verdict | detail |",
                "|---|---|---|---|---|",
            ]
            for rule in self.rules:
                if rule.tier != tier:
                    continue
                cells = [
                    f"`{rule.name}`",
                    _format_value(rule.value),
                    rule.threshold,
                    "pass" if rule.passed else "**FAIL**",
                    rule.detail,
                ]
                lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        return "\n".join(lines) + "\n"

    def tags(self) -> dict[str, str]:
        """Return flat string tags for MLflow: ``gate.passed``, ``gate.tier.<k>``, ``gate.rule.<name>``.

        Verdicts are ``true``/``false`` (the vocabulary of :mod:`pipeline.tracking.tags`).
        """
        tags = {
            T.GATE_PASSED: T.bool_text(self.passed),
            T.GATE_N_TRIALS: str(self.n_trials),
            T.GATE_N_TRIALS_SOURCE: self.n_trials_source,
            T.GATE_FAILED_RULES: ",".join(rule.name for rule in self.failed_rules),
        }
        for tier in self._tiers():
            tags[T.gate_tier(tier)] = T.bool_text(self.tier_passed(tier))
        for rule in self.rules:
            tags[T.gate_rule(rule.name)] = T.bool_text(rule.passed)
        return tags

    def metrics(self) -> dict[str, float]:
        """Return the rules' finite numeric values as MLflow metrics ``gate.<name>``."""
        metrics: dict[str, float] = {}
        for rule in self.rules:
            value = _json_value(rule.value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[f"gate.{rule.name}"] = float(value)
        return metrics
