"""Look-ahead check: a feature at bar t must not change when the bars after t are removed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import FeatureError
from pipeline.features.pipeline import FeaturePipeline

RTOL = 1e-9
ATOL = 1e-12


@dataclass(frozen=True)
class LeakageReport:
    """Outcome of :func:`check_leakage`.

    Attributes
    ----------
    passed : bool
        True when no feature changed on any truncated computation.
    cuts : list of Timestamp
        Last bar kept in each truncated computation.
    leaking_features : list of str
        Features whose values changed, in feature order.
    checked_features : list of str
        Every feature compared.
    details : dict of str to str
        Per leaking feature, where it first differed (cut, bar, full and truncated value).
    """

    passed: bool
    cuts: list[pd.Timestamp]
    leaking_features: list[str]
    checked_features: list[str]
    details: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe data."""
        return {
            "passed": self.passed,
            "cuts": [ts.isoformat() for ts in self.cuts],
            "leaking_features": list(self.leaking_features),
            "checked_features": list(self.checked_features),
            "details": dict(self.details),
        }


def cut_positions(n_bars: int, warmup: int, cuts: int) -> list[int]:
    """Return up to ``cuts`` deterministic, evenly spread positions of the last bar kept.

    The first cut keeps ``warmup + 1`` bars and the last drops only the final bar.

    Raises
    ------
    FeatureError
        If ``cuts < 1`` or there are too few bars to cut after the warm-up.
    """
    if cuts < 1:
        raise FeatureError(f"check_leakage: cuts must be >= 1, got {cuts}")
    lo, hi = warmup, n_bars - 2
    if hi < lo:
        raise FeatureError(f"check_leakage: need at least {warmup + 2} bars (warmup {warmup}), got {n_bars}")
    return sorted({int(p) for p in np.linspace(lo, hi, cuts).round()})


def check_leakage(
    pipeline: FeaturePipeline, bars: pd.DataFrame, cuts: int | Sequence[pd.Timestamp] = 5
) -> LeakageReport:
    """Recompute every feature on ``bars`` truncated at each cut and compare with the full computation.

    A causal feature has the same value on every overlapping row (``np.isclose`` with ``rtol=1e-9``,
    ``atol=1e-12``, NaN equal to NaN); a feature that looks ahead (``shift(-1)``, centred windows,
    whole-series normalisation, backward fills, ...) differs on at least one row of some truncation. All
    overlapping rows are compared, warm-up rows included.

    Parameters
    ----------
    pipeline : FeaturePipeline
        The groups (built-in and plugin) to check.
    bars : DataFrame
        Canonical bars.
    cuts : int or sequence of Timestamp, default 5
        Number of evenly spread cut points after the warm-up, or the bars (timestamps) to cut at.

    Returns
    -------
    LeakageReport
    """
    full = pipeline.compute_raw(bars)
    if isinstance(cuts, int | np.integer):
        positions = cut_positions(len(full), pipeline.warmup, int(cuts))
    else:
        positions = sorted({_position(full.index, ts) for ts in cuts})
    columns = list(full.columns)
    full_values = full.to_numpy()
    details: dict[str, str] = {}
    for pos in positions:
        part = pipeline.compute_raw(bars.iloc[: pos + 1])
        if list(part.columns) != columns:
            for col in columns:
                if col not in part.columns and col not in details:
                    details[col] = f"missing when bars end at {full.index[pos]}"
            part = part.reindex(columns=columns)
        a = full_values[: pos + 1]
        b = part.to_numpy()
        same = np.isclose(a, b, rtol=RTOL, atol=ATOL) | (np.isnan(a) & np.isnan(b))
        for j in np.flatnonzero(~same.all(axis=0)):
            col = columns[j]
            if col in details:
                continue
            rows = np.flatnonzero(~same[:, j])
            row = rows[0]
            details[col] = (
                f"bars cut after {full.index[pos]}: {len(rows)} of {pos + 1} rows differ, first at "
                f"{full.index[row]} (full {a[row, j]!r}, truncated {b[row, j]!r})"
            )
    leaking = [col for col in columns if col in details]
    return LeakageReport(
        passed=not leaking,
        cuts=[full.index[pos] for pos in positions],
        leaking_features=leaking,
        checked_features=columns,
        details={col: details[col] for col in leaking},
    )


def _position(index: pd.DatetimeIndex, ts: pd.Timestamp) -> int:
    try:
        pos = index.get_loc(pd.Timestamp(ts))
    except KeyError:
        raise FeatureError(f"check_leakage: cut {ts} is not a bar of the series") from None
    if not isinstance(pos, int | np.integer):
        raise FeatureError(f"check_leakage: cut {ts} does not name a single bar")
    if pos >= len(index) - 1:
        raise FeatureError(f"check_leakage: cut {ts} is the last bar; nothing would be removed")
    return int(pos)
