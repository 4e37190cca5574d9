"""The exact bars of a run as an MLflow dataset input (the runs table's Datasets column).

MLflow keeps a dataset digest of at most 36 characters, so the digest is the first
:data:`DIGEST_LENGTH` hex characters of the data fingerprint; the full fingerprint is in the dataset's
source (and in the run's ``data.fingerprint`` tag).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from mlflow.data.dataset_source import DatasetSource

DIGEST_LENGTH = 32  # MLflow's limit is 36; 32 hex characters are 128 bits of the SHA-256
SOURCE_TYPE = "quantgate-bars"
CONTEXT = "training"  # the input tag mlflow.data.context: the bars fed the features, model and backtest


class BarsSource(DatasetSource):
    """Where bars came from: source, symbol, timeframe, requested window and the full fingerprint."""

    def __init__(self, info: dict[str, Any]) -> None:
        self._info = {key: None if value is None else str(value) for key, value in info.items()}

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self) -> Any:
        raise NotImplementedError("quantgate bars are loaded with `quantgate data`, not from the dataset source")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> BarsSource:
        raise NotImplementedError("BarsSource is built explicitly")

    def to_dict(self) -> dict[str, Any]:
        """The source as MLflow stores it (JSON)."""
        return dict(self._info)

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> BarsSource:
        """Rebuild from :meth:`to_dict`."""
        return cls(dict(source_dict))


def dataset_name(source: str, symbol: str, timeframe: str, start: Any, end: Any) -> str:
    """``MSFT-1d@sample[2005-01-01..2012-12-31]``: what the Datasets column shows."""
    return f"{symbol}-{timeframe}@{source}[{_day(start)}..{_day(end)}]"


def _day(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:10]


def bars_dataset(
    bars: pd.DataFrame, *, fingerprint: str, source: str, symbol: str, timeframe: str, start: Any, end: Any
) -> Any:
    """Return an MLflow ``PandasDataset`` of ``bars`` whose digest is the (shortened) data fingerprint.

    Parameters
    ----------
    bars : pandas.DataFrame
        The canonical bars exactly as used.
    fingerprint : str
        :func:`pipeline.tracking.fingerprint.data_fingerprint` of ``bars``.
    source, symbol, timeframe : str
        What was requested.
    start, end : date-like
        The requested window.
    """
    from mlflow.data.pandas_dataset import PandasDataset

    info = {
        "source": source,
        "symbol": symbol,
        "timeframe": timeframe,
        "start": _day(start),
        "end": _day(end),
        "fingerprint": fingerprint,
        "rows": len(bars),
    }
    frame = bars.reset_index()
    return PandasDataset(
        df=frame,
        source=BarsSource(info),
        name=dataset_name(source, symbol, timeframe, start, end),
        digest=fingerprint[:DIGEST_LENGTH],
    )


def source_info(source_json: str) -> dict[str, Any]:
    """Parse a logged dataset's source back into its fields."""
    return dict(json.loads(source_json))
