"""The tuning stage's error."""

from __future__ import annotations

from pipeline.errors import PlatformError


class TuningError(PlatformError):
    """An Optuna study could not be set up, run or read back."""
