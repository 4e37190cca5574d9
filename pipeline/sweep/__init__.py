"""Sweeps: many experiments from one folder, resumable, claimed per config, trial-aware, ranked on a leaderboard."""

from pipeline.sweep.claims import Claim, claim_item, hold
from pipeline.sweep.discovery import SweepItem, SweepPlan, discover, sweep_family
from pipeline.sweep.leaderboard import leaderboard
from pipeline.sweep.outcome import ItemResult, SweepOutcome
from pipeline.sweep.resume import completed_run
from pipeline.sweep.trials import FAMILY_TAG, combine, family_sharpes, sibling_trials

__all__ = [
    "FAMILY_TAG",
    "Claim",
    "ItemResult",
    "SweepItem",
    "SweepOutcome",
    "SweepPlan",
    "claim_item",
    "combine",
    "completed_run",
    "discover",
    "family_sharpes",
    "hold",
    "leaderboard",
    "sibling_trials",
    "sweep_family",
]
