"""Labels: targets computed from future prices, one segment at a time.

``build_dataset`` lives in :mod:`pipeline.split` (it splits first, then labels); it is re-exported here
lazily so that ``from pipeline.labels import build_dataset`` works without an import cycle.
"""

from __future__ import annotations

from typing import Any

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
    "build_dataset",
    "forward_returns",
    "make_labels",
    "multiclass_labels",
    "triple_barrier_labels",
]


def __getattr__(name: str) -> Any:
    if name == "build_dataset":
        from pipeline.split import build_dataset

        return build_dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
