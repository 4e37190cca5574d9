"""What a sweep produced: one result per experiment, and the sweep as a whole with its leaderboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from pipeline.experiment.outcome import ExperimentOutcome


@dataclass
class ItemResult:
    """What happened to one experiment of a sweep."""

    label: str
    status: Literal["completed", "skipped", "failed"]
    outcome: ExperimentOutcome | None = None
    run_id: str | None = None
    error: str | None = None
    note: str | None = None


@dataclass
class SweepOutcome:
    """A finished sweep: per-item results, unreadable files and the leaderboard."""

    family: str
    run_id: str
    results: list[ItemResult]
    bad_files: list[str]
    leaderboard: pd.DataFrame = field(default_factory=pd.DataFrame)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)
