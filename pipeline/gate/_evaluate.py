"""Run the three tiers: the default rule set from a :class:`GateConfig`, and the loop over rules."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.config import GateConfig
from pipeline.gate._base import GateRule
from pipeline.gate._evidence import GateEvidence
from pipeline.gate._performance_rules import BeatBuyAndHoldRule, HoldingPeriodsRule, MetricThresholdRule, WinRateRule
from pipeline.gate._report import GateReport
from pipeline.gate._sanity_rules import CoverageRule, FeatureMetadataRule, FiniteMetricsRule, ModelArtifactRule
from pipeline.gate._statistics_rules import (
    BootstrapExcessRule,
    DeflatedSharpeRule,
    FoldConsistencyRule,
    LeakageRule,
    MinBacktestLengthRule,
    ProbabilisticSharpeRule,
)


def default_rules(cfg: GateConfig, *, walk_forward: bool = False) -> list[GateRule]:
    """Build the gate's rules from its configuration, in tier order.

    Parameters
    ----------
    cfg
        Thresholds of the gate.
    walk_forward
        Add the walk-forward fold-consistency rule.

    Returns
    -------
    list[GateRule]
        Tier 1 (sanity), tier 2 (performance) and tier 3 (statistics) rules.
    """
    rules: list[GateRule] = [
        ModelArtifactRule(),
        FeatureMetadataRule(),
        FiniteMetricsRule(),
        CoverageRule(cfg.min_coverage),
        HoldingPeriodsRule(cfg.min_holding_periods),
        MetricThresholdRule("total_return", cfg.min_total_return, op=">", tier=2),
        MetricThresholdRule("sharpe", cfg.min_sharpe, op=">", tier=2),
        WinRateRule(cfg.win_rate_min, cfg.win_rate_max),
        BeatBuyAndHoldRule(required=cfg.require_beat_buy_and_hold),
        ProbabilisticSharpeRule(cfg.min_psr),
        DeflatedSharpeRule(cfg.min_dsr),
        MinBacktestLengthRule(),
        BootstrapExcessRule(cfg.max_bootstrap_pvalue, cfg.bootstrap_reps),
        LeakageRule(),
    ]
    if walk_forward:
        rules.append(FoldConsistencyRule(cfg.min_fold_consistency))
    return rules


def evaluate_rules(evidence: GateEvidence, rules: Iterable[GateRule]) -> GateReport:
    """Evaluate every rule on the evidence, whatever earlier rules decided.

    Parameters
    ----------
    evidence
        The run's plain inputs.
    rules
        The rules to run; names must be unique.

    Returns
    -------
    GateReport
        One result per rule, sorted by tier (stable within a tier).

    Raises
    ------
    ValueError
        If two rules share a name.
    """
    rules = list(rules)
    names = [rule.name for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"rule names must be unique (repeated: {', '.join(duplicates)})")
    results = sorted((rule.evaluate(evidence) for rule in rules), key=lambda result: result.tier)
    return GateReport(
        rules=results,
        n_trials=evidence.n_trials,
        n_trials_source=evidence.n_trials_source,
        n_bars=evidence.n_bars,
        periods_per_year=evidence.periods_per_year,
        seed=evidence.seed,
    )


def evaluate_gate(evidence: GateEvidence, cfg: GateConfig) -> GateReport:
    """Judge one run with the three-tier gate.

    Every rule is evaluated and reported, even when an earlier tier failed. The fold-consistency rule is
    added when the evidence carries walk-forward fold results.

    Parameters
    ----------
    evidence
        The run's plain inputs.
    cfg
        Thresholds of the gate (``ExperimentConfig.gate``).

    Returns
    -------
    GateReport
        ``passed`` is True only when every rule passed. A failed gate is not an exception.
    """
    rules = default_rules(cfg, walk_forward=evidence.fold_excess_returns is not None)
    return evaluate_rules(evidence, rules)
