"""Chronological, embargoed train / validation / test segments, labelled inside each segment.

Order of operations (the point of this module):

1. Align: keep the bars where the feature matrix has a row (the feature warm-up is already dropped).
2. Split by position over those rows, never shuffled: ``train | embargo | validation | embargo | test``.
   The ``embargo`` bars between segments are dropped; the fractions of :class:`SplitConfig` apply to
   the rows left after removing the two embargo gaps.
3. Label each segment from that segment's own bars (first to last timestamp of its rows), so no label
   reads a price after its segment's end. The last ``holding_period`` rows of each segment cannot be
   labelled and leave ``X``/``y``; they stay in ``Segment.bars`` and ``Segment.features`` so that the
   backtest can still trade them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import ExperimentConfig, TargetConfig
from pipeline.errors import LabelError
from pipeline.labels.targets import make_labels

#: Fewest labelled rows a segment may have.
MIN_SEGMENT_ROWS = 30

SEGMENT_NAMES: tuple[str, str, str] = ("train", "validation", "test")


@dataclass(frozen=True)
class Segment:
    """One contiguous, labelled slice of the data.

    Attributes
    ----------
    name : str
        ``train``, ``validation`` or ``test``.
    X : pandas.DataFrame
        Feature rows that have a label (the unlabelable tail is dropped).
    y : pandas.Series
        int64 labels aligned with ``X``.
    bars : pandas.DataFrame
        The segment's bars, first to last row inclusive, including the unlabelled tail.
    index : pandas.DatetimeIndex
        ``X.index``.
    features : pandas.DataFrame
        All feature rows of the segment, including the unlabelled tail (predict on these to backtest).
    positions : tuple[int, int]
        Half-open positions ``[start, stop)`` of the segment in the aligned feature rows.
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    bars: pd.DataFrame
    index: pd.DatetimeIndex
    features: pd.DataFrame
    positions: tuple[int, int]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def start(self) -> pd.Timestamp:
        """First bar of the segment."""
        return self.bars.index[0]

    @property
    def end(self) -> pd.Timestamp:
        """Last bar of the segment (including the unlabelled tail)."""
        return self.bars.index[-1]

    def class_counts(self) -> dict[int, int]:
        """Return rows per class."""
        return {int(k): int(v) for k, v in self.y.value_counts().sort_index().items()}


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test segments plus the gap rules that separate them.

    ``fold`` is the walk-forward fold number, ``None`` for a plain chronological split.
    """

    train: Segment
    validation: Segment
    test: Segment
    embargo: int
    holding_period: int
    fold: int | None = field(default=None)

    def segments(self) -> Iterator[Segment]:
        """Yield train, validation and test, in time order."""
        yield self.train
        yield self.validation
        yield self.test

    def summary(self) -> dict[str, Any]:
        """Return a JSON-safe description (rows, spans, class counts) for logging."""
        out: dict[str, Any] = {"embargo": self.embargo, "holding_period": self.holding_period, "fold": self.fold}
        for seg in self.segments():
            out[seg.name] = {
                "rows": len(seg),
                "start": seg.start.isoformat(),
                "end": seg.end.isoformat(),
                "classes": {str(k): v for k, v in seg.class_counts().items()},
            }
        return out


def chronological_bounds(
    n_rows: int, train: float, validation: float, test: float, embargo: int
) -> list[tuple[int, int]]:
    """Return half-open ``[start, stop)`` positions of train, validation and test.

    ``embargo`` rows are left out between train and validation and between validation and test; the
    fractions split the remaining ``n_rows - 2 * embargo`` rows (test takes the rounding remainder).

    Raises
    ------
    LabelError
        If the embargo leaves no rows to split.
    """
    usable = n_rows - 2 * embargo
    if usable <= 0:
        raise LabelError(f"split: {n_rows} rows cannot hold two embargo gaps of {embargo} bars")
    total = train + validation + test
    n_train = int(np.floor(usable * train / total))
    n_val = int(np.floor(usable * validation / total))
    a, b = 0, n_train
    c, d = b + embargo, b + embargo + n_val
    e, f = d + embargo, n_rows
    return [(a, b), (c, d), (e, f)]


def align_features(bars: pd.DataFrame, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(bars, features)`` sorted, with features restricted to bars' timestamps; validate."""
    if not bars.index.is_monotonic_increasing or not bars.index.is_unique:
        bars = bars[~bars.index.duplicated(keep="last")].sort_index()
    if not features.index.is_monotonic_increasing:
        features = features.sort_index()
    if not features.index.is_unique:
        raise LabelError("build_dataset: the feature matrix has duplicate timestamps")
    missing = ~features.index.isin(bars.index)
    if missing.any():
        ts = features.index[missing.nonzero()[0][0]]
        raise LabelError(f"build_dataset: feature row ts={ts} has no bar ({int(missing.sum())} such rows)")
    return bars, features


def make_segment(
    name: str,
    bars: pd.DataFrame,
    features: pd.DataFrame,
    start: int,
    stop: int,
    target_cfg: TargetConfig,
    *,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> Segment:
    """Cut rows ``[start, stop)`` of ``features`` and label them from their own bars only.

    Parameters
    ----------
    name : str
        Segment name, used in errors.
    bars : pandas.DataFrame
        All canonical bars (sorted); only the segment's time span is read.
    features : pandas.DataFrame
        Aligned feature matrix (sorted, index a subset of ``bars.index``).
    start, stop : int
        Half-open positions in ``features``.
    target_cfg : TargetConfig
        The target.
    min_rows : int
        Fewest labelled rows accepted.

    Raises
    ------
    LabelError
        If the segment is empty or has fewer than ``min_rows`` labelled rows.
    """
    if stop - start <= 0:
        raise LabelError(f"{name} segment is empty (positions {start}..{stop})")
    seg_features = features.iloc[start:stop]
    first, last = seg_features.index[0], seg_features.index[-1]
    seg_bars = bars.loc[first:last]
    labels = make_labels(seg_bars, target_cfg).reindex(seg_features.index)
    keep = labels.notna().to_numpy()
    n = int(keep.sum())
    if n < min_rows:
        raise LabelError(
            f"{name} segment has {n} labelled rows (< {min_rows}) between {first.isoformat()} and "
            f"{last.isoformat()}; use more data, a shorter holding_period or a smaller embargo"
        )
    X = seg_features.loc[keep]
    y = labels.loc[keep].astype("int64")
    return Segment(
        name=name,
        X=X,
        y=y,
        bars=seg_bars,
        index=pd.DatetimeIndex(X.index),
        features=seg_features,
        positions=(start, stop),
    )


def check_train_classes(segment: Segment) -> None:
    """Raise :class:`LabelError` when a training segment holds a single class."""
    classes = segment.y.unique()
    if len(classes) < 2:
        raise LabelError(
            f"{segment.name} segment has a single class ({int(classes[0])}) in {len(segment)} rows; "
            "change the target thresholds or the data window"
        )


def build_dataset(bars: pd.DataFrame, features: pd.DataFrame, config: ExperimentConfig) -> Dataset:
    """Split chronologically, then label inside each segment.

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars (UTC ``ts`` index).
    features : pandas.DataFrame
        Feature matrix; its index is a subset of ``bars.index`` (warm-up already dropped).
    config : ExperimentConfig
        Uses ``split`` (fractions), ``target`` and ``embargo``.

    Returns
    -------
    Dataset
        ``train < validation < test`` in time, separated by ``config.embargo`` dropped rows.

    Raises
    ------
    LabelError
        If a feature row has no bar, a segment has fewer than 30 labelled rows, or train has one class.
    """
    bars, features = align_features(bars, features)
    split = config.split
    embargo = config.embargo
    bounds = chronological_bounds(len(features), split.train, split.validation, split.test, embargo)
    segments = [
        make_segment(name, bars, features, start, stop, config.target)
        for name, (start, stop) in zip(SEGMENT_NAMES, bounds, strict=True)
    ]
    check_train_classes(segments[0])
    return Dataset(
        train=segments[0],
        validation=segments[1],
        test=segments[2],
        embargo=embargo,
        holding_period=config.target.holding_period,
    )
