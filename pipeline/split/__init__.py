"""Splits: chronological, embargoed segments (and walk-forward folds), labelled inside each segment."""

from pipeline.split.dataset import (
    MIN_SEGMENT_ROWS,
    SEGMENT_NAMES,
    Dataset,
    Segment,
    build_dataset,
    chronological_bounds,
    make_segment,
)
from pipeline.split.walk_forward import Fold, build_walk_forward, walk_forward_folds

__all__ = [
    "MIN_SEGMENT_ROWS",
    "SEGMENT_NAMES",
    "Dataset",
    "Fold",
    "Segment",
    "build_dataset",
    "build_walk_forward",
    "chronological_bounds",
    "make_segment",
    "walk_forward_folds",
]
