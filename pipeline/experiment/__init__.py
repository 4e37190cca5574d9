"""The experiment use case in plain Python: glue between stages that tasks and flows call.

Each function here is one unit of work of the experiment flow (load bars, record a run, gate, publish),
built from the stage packages; none of them knows about Prefect.
"""

from pipeline.experiment.checks import semantic_errors
from pipeline.experiment.data import ExperimentBars, asset_class_of, load_experiment_bars
from pipeline.experiment.outcome import ExperimentOutcome, RuleLine

__all__ = [
    "ExperimentBars",
    "ExperimentOutcome",
    "RuleLine",
    "asset_class_of",
    "load_experiment_bars",
    "semantic_errors",
]
