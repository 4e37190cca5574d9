"""The three-tier gate: sanity, performance after costs, and statistics, on plain evidence.

``evaluate_gate(evidence, cfg)`` runs every rule and returns a :class:`GateReport`; a failed gate is a
report with ``passed == False``, never an exception. Each rule is a small :class:`GateRule` whose
parameters are validated when it is built. The statistics live in :mod:`pipeline.gate.statistics`.
"""

from pipeline.gate._base import GateRule
from pipeline.gate._evaluate import default_rules, evaluate_gate, evaluate_rules
from pipeline.gate._evidence import GateEvidence
from pipeline.gate._performance_rules import (
    BeatBuyAndHoldRule,
    HoldingPeriodsRule,
    MetricBandRule,
    MetricThresholdRule,
    WinRateRule,
)
from pipeline.gate._report import TIER_NAMES, GateReport, RuleResult
from pipeline.gate._sanity_rules import (
    GATE_METRICS,
    CoverageRule,
    FeatureMetadataRule,
    FiniteMetricsRule,
    ModelArtifactRule,
)
from pipeline.gate._statistics_rules import (
    BootstrapExcessRule,
    DeflatedSharpeRule,
    FoldConsistencyRule,
    LeakageRule,
    MinBacktestLengthRule,
    ProbabilisticSharpeRule,
)

__all__ = [
    "GATE_METRICS",
    "TIER_NAMES",
    "BeatBuyAndHoldRule",
    "BootstrapExcessRule",
    "CoverageRule",
    "DeflatedSharpeRule",
    "FeatureMetadataRule",
    "FiniteMetricsRule",
    "FoldConsistencyRule",
    "GateEvidence",
    "GateReport",
    "GateRule",
    "HoldingPeriodsRule",
    "LeakageRule",
    "MetricBandRule",
    "MetricThresholdRule",
    "MinBacktestLengthRule",
    "ModelArtifactRule",
    "ProbabilisticSharpeRule",
    "RuleResult",
    "WinRateRule",
    "default_rules",
    "evaluate_gate",
    "evaluate_rules",
]
