"""Reuse a passed quality report for the same bars, suite and code: a rerun skips Great Expectations.

Validating the same bars with the same suite and the same code gives the same report, so a passed report
is stored as JSON under ``$QUANTGATE_HOME/cache/quality/`` and read back on the next validation with an
equal key: a hash of the bars (values and index), the suite document, the validation arguments, the
installed Great Expectations version and the code of :mod:`pipeline.quality`. A second ``quantgate run``
of a config in a new process thus saves Great Expectations' import (about 4 s) and the validation.
Failed reports are never stored (the next run validates again and shows fresh errors); an unreadable
cache file is ignored and rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import settings
from pipeline.quality.report import ExpectationOutcome, QualityReport, json_safe
from pipeline.quality.suites import default_suite_name, read_suite_dict
from pipeline.quality.validate import validate_bars
from pipeline.timeframes import AssetClass
from pipeline.window import TimeLike


def cache_dir() -> Path:
    """Where passed reports are kept."""
    return settings.home() / "cache" / "quality"


def report_from_dict(document: dict[str, Any]) -> QualityReport:
    """The report :meth:`QualityReport.to_dict` wrote (timestamps back to ``pandas.Timestamp``)."""

    def ts(value: str | None) -> pd.Timestamp | None:
        return None if value is None else pd.Timestamp(value)

    outcomes = tuple(
        ExpectationOutcome(
            expectation=r["expectation"],
            column=r["column"],
            success=r["success"],
            unexpected_count=r["unexpected_count"],
            examples=list(r["examples"]),
            check="" if r["check"] == r["expectation"] else r["check"],
            observed_value=r["observed_value"],
            exception=r["exception"],
        )
        for r in document["results"]
    )
    return QualityReport(
        success=document["success"],
        suite=document["suite"],
        coverage=float(document["coverage"]),
        expected_bars=document["expected_bars"],
        present_bars=document["present_bars"],
        missing=tuple(pd.Timestamp(t) for t in document["missing"]),
        off_grid=tuple(pd.Timestamp(t) for t in document["off_grid"]),
        results=outcomes,
        asset_class=document["asset_class"],
        timeframe=document["timeframe"],
        start=ts(document["start"]),
        end=ts(document["end"]),
        rows=document["rows"],
        unchecked_bars=document["unchecked_bars"],
        notes=tuple(document["notes"]),
    )


@functools.lru_cache(maxsize=1)
def quality_code_version() -> str:
    """Great Expectations' version and the code of :mod:`pipeline.quality` (fixed for the life of a
    process): part of every stored report's and verdict's key."""
    digest = hashlib.sha256(metadata.version("great_expectations").encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(bars: pd.DataFrame, *, asset_class: AssetClass, timeframe: str, start: Any, end: Any) -> str:
    """Hash of everything the report depends on."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(bars, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(c) for c in bars.columns], sort_keys=True).encode())
    document = read_suite_dict(default_suite_name(asset_class))
    arguments = [asset_class, timeframe, json_safe(start), json_safe(end), str(start), str(end)]
    digest.update(json.dumps([document, arguments], sort_keys=True, default=str).encode())
    digest.update(quality_code_version().encode())
    return digest.hexdigest()


def validate_bars_cached(
    bars: pd.DataFrame,
    *,
    asset_class: AssetClass,
    timeframe: str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    symbol: str | None = None,
) -> QualityReport:
    """:func:`validate_bars` with the default suite, reusing a passed report for the same key.

    With ``symbol``, the bars of a passed report are also recorded as passed for that series
    (:mod:`pipeline.quality.verdicts`), so a trading cycle reading them later does not validate them again.
    """
    path = cache_dir() / f"{cache_key(bars, asset_class=asset_class, timeframe=timeframe, start=start, end=end)}.json"
    try:
        report = report_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        report = validate_bars(bars, asset_class=asset_class, timeframe=timeframe, start=start, end=end)
        if report.success:
            _store(path, report)
    if report.success and symbol is not None:
        from pipeline.quality.verdicts import record_passed

        record_passed(symbol, timeframe, asset_class, bars)
    return report


def _store(path: Path, report: QualityReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(report.to_dict()))
    partial.replace(path)  # atomic: concurrent sweeps never read half a file
