"""evaluate_gate end to end, and the report's views: verdicts, dict/JSON, Markdown, MLflow tags and metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pipeline.config import GateConfig
from pipeline.gate import GateReport, MetricThresholdRule, RuleResult, default_rules, evaluate_gate, evaluate_rules
from tests.gate.builders import benchmark_returns, good_metrics, passing_evidence

ALL_RULES = [
    "model_artifact",
    "feature_metadata",
    "metrics_finite",
    "coverage",
    "min_holding_periods",
    "total_return",
    "sharpe",
    "win_rate",
    "beats_buy_and_hold",
    "psr",
    "dsr",
    "min_backtest_length",
    "bootstrap_pvalue",
    "leakage",
]


def test_evaluate_gate_when_evidence_strong_passes_every_tier() -> None:
    report = evaluate_gate(passing_evidence(), GateConfig())
    assert report.passed, report.to_markdown()
    assert [rule.name for rule in report.rules] == ALL_RULES
    assert all(report.tier_passed(tier) for tier in (1, 2, 3))
    assert report.failed_rules == []


def test_evaluate_gate_when_metric_nan_fails_tier_one_and_still_reports_every_rule() -> None:
    report = evaluate_gate(passing_evidence(metrics=good_metrics(sharpe=math.nan)), GateConfig())
    assert not report.passed
    assert not report.tier_passed(1)
    assert [rule.name for rule in report.rules] == ALL_RULES
    assert {rule.name for rule in report.failed_rules} == {"metrics_finite", "sharpe"}
    sharpe = next(rule for rule in report.rules if rule.name == "sharpe")
    assert sharpe.value is None


def test_evaluate_gate_when_no_edge_fails_tiers_two_and_three() -> None:
    benchmark = benchmark_returns()
    noise = np.random.default_rng(31).normal(0.0, 0.01, benchmark.size)
    evidence = passing_evidence(
        metrics=good_metrics(total_return=-0.05, sharpe=0.0, excess_return=-0.25),
        strategy_returns=noise - noise.mean(),
        benchmark_returns=benchmark,
        n_trials=25,
        n_trials_source="optuna study 'noise'",
    )
    report = evaluate_gate(evidence, GateConfig())
    assert report.tier_passed(1)
    assert not report.tier_passed(2)
    assert not report.tier_passed(3)
    assert {"psr", "dsr", "min_backtest_length", "bootstrap_pvalue"} <= {r.name for r in report.failed_rules}


def test_evaluate_gate_when_folds_given_adds_fold_consistency() -> None:
    cfg = GateConfig(min_fold_consistency=0.75)
    report = evaluate_gate(passing_evidence(fold_excess_returns=[0.1, 0.2, -0.1, 0.3]), cfg)
    assert report.rules[-1].name == "fold_consistency"
    assert report.rules[-1].passed
    assert not evaluate_gate(passing_evidence(fold_excess_returns=[0.1, -0.2, -0.1, 0.3]), cfg).passed


def test_evaluate_gate_when_config_tightened_fails_the_tightened_rule() -> None:
    report = evaluate_gate(passing_evidence(), GateConfig(min_sharpe=2.0, min_holding_periods=100_000))
    assert {rule.name for rule in report.failed_rules} == {"sharpe", "min_holding_periods"}
    assert not report.tier_passed(1)
    assert not report.tier_passed(2)
    assert report.tier_passed(3)


def test_evaluate_gate_when_buy_and_hold_not_required_passes_with_negative_excess() -> None:
    evidence = passing_evidence(metrics=good_metrics(excess_return=-0.1))
    assert not evaluate_gate(evidence, GateConfig()).tier_passed(2)
    assert evaluate_gate(evidence, GateConfig(require_beat_buy_and_hold=False)).tier_passed(2)


def test_evaluate_gate_when_bootstrap_reps_from_config_is_reproducible() -> None:
    cfg = GateConfig(bootstrap_reps=200)
    first = evaluate_gate(passing_evidence(), cfg).to_dict()
    assert evaluate_gate(passing_evidence(), cfg).to_dict() == first
    bootstrap = next(rule for rule in first["rules"] if rule["name"] == "bootstrap_pvalue")
    assert "200 reps" in bootstrap["detail"]


def test_evaluate_rules_when_names_repeat_raises() -> None:
    rules = [MetricThresholdRule("sharpe", 0.5), MetricThresholdRule("sharpe", 1.0)]
    with pytest.raises(ValueError, match="unique"):
        evaluate_rules(passing_evidence(), rules)


def test_evaluate_rules_when_given_out_of_order_sorts_by_tier() -> None:
    rules = list(reversed(default_rules(GateConfig(), walk_forward=True)))
    report = evaluate_rules(passing_evidence(fold_excess_returns=[0.1]), rules)
    tiers = [rule.tier for rule in report.rules]
    assert tiers == sorted(tiers)


# --- views of the report -----------------------------------------------------------------------------


def _failing_report() -> GateReport:
    evidence = passing_evidence(
        metrics=good_metrics(calmar=math.inf, win_rate=math.nan),
        n_trials=7,
        trial_sharpes=[0.4, 1.1, 0.9],
        n_trials_source="optuna study 'abc', 7 completed trials",
        leakage_passed=False,
        leaking_features=["close_fwd_1"],
        strategy_returns=-np.abs(benchmark_returns()),
        fold_excess_returns=[0.1, math.nan],
    )
    return evaluate_gate(evidence, GateConfig())


def test_report_to_markdown_when_rendered_lists_every_rule_and_trial_source() -> None:
    report = _failing_report()
    text = report.to_markdown()
    assert text.startswith("# Gate: FAILED")
    assert "N = 7 (source: optuna study 'abc', 7 completed trials)" in text
    for tier, name in [(1, "sanity"), (2, "performance"), (3, "statistics")]:
        assert f"## Tier {tier}: {name}" in text
    for rule in report.rules:
        assert f"`{rule.name}`" in text
        assert rule.threshold in text
    assert "| rule | value | threshold | verdict | detail |" in text
    assert "close_fwd_1" in text
    assert "inf" in text  # MinBTL of a losing strategy


def test_report_to_dict_when_values_not_finite_is_strict_json() -> None:
    report = _failing_report()
    data = report.to_dict()
    round_trip = json.loads(json.dumps(data, allow_nan=False))
    assert round_trip == data
    assert json.loads(report.to_json()) == data
    assert data["passed"] is False
    assert data["n_trials"] == 7
    assert data["tiers"]["3"] == {"name": "statistics", "passed": False}
    by_name = {rule["name"]: rule for rule in data["rules"]}
    assert by_name["min_backtest_length"]["value"] is None  # inf
    assert by_name["win_rate"]["value"] is None  # NaN metric
    assert set(data["failed_rules"]) >= {"metrics_finite", "leakage", "fold_consistency"}
    assert data["review_rules"] == ["win_rate"]  # advisory: flagged for review, never a failure


def test_report_tags_when_built_are_flat_strings() -> None:
    report = _failing_report()
    tags = report.tags()
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in tags.items())
    assert tags["gate.passed"] == "false"
    assert tags["gate.tier.1"] == "false"
    assert tags["gate.n_trials"] == "7"
    assert tags["gate.rule.leakage"] == "false"
    assert tags["gate.rule.model_artifact"] == "true"
    assert {f"gate.rule.{rule.name}" for rule in report.rules} <= set(tags)


def test_report_metrics_when_built_keep_only_finite_numbers() -> None:
    report = _failing_report()
    metrics = report.metrics()
    assert all(isinstance(value, float) and math.isfinite(value) for value in metrics.values())
    assert metrics["gate.leakage"] == 1.0
    assert "gate.min_backtest_length" not in metrics  # inf
    assert "gate.model_artifact" not in metrics  # a string value
    assert metrics["gate.psr"] == pytest.approx(next(r.value for r in report.rules if r.name == "psr"))


def test_report_tier_passed_when_tier_unknown_raises() -> None:
    with pytest.raises(ValueError, match="tier"):
        _failing_report().tier_passed(4)


def test_report_when_empty_does_not_pass() -> None:
    assert not GateReport(rules=[], n_trials=1, n_trials_source="single run").passed


def test_rule_result_to_dict_when_value_nan_gives_none() -> None:
    result = RuleResult(3, "statistics", "psr", math.nan, ">= 0.95", False, "constructed")
    assert result.to_dict()["value"] is None
    json.dumps(result.to_dict(), allow_nan=False)
