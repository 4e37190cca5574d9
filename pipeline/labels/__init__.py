"""Labels: targets computed from future prices, one segment at a time.

Labels know nothing of splits. :mod:`pipeline.split` depends on this package (it splits first, then labels each
segment with :func:`make_labels`); ``build_dataset`` lives there, and this package never imports it.
"""

from __future__ import annotations

from pipeline.labels.targets import (
    PROFIT_CLASS,
    STOP_CLASS,
    VERTICAL_CLASS,
    binary_labels,
    forward_returns,
    make_labels,
    multiclass_labels,
    triple_barrier_labels,
)

__all__ = [
    "PROFIT_CLASS",
    "STOP_CLASS",
    "VERTICAL_CLASS",
    "binary_labels",
    "forward_returns",
    "make_labels",
    "multiclass_labels",
    "triple_barrier_labels",
]
