"""What a data-quality run found: one outcome per expectation plus grid coverage, in plain dataclasses.

Nothing here imports Great Expectations; a :class:`QualityReport` can be built, rendered and turned into
JSON without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.errors import DataQualityError


@dataclass(frozen=True)
class ExpectationOutcome:
    """The verdict of one expectation of the suite.

    Attributes
    ----------
    expectation : str
        Great Expectations type, e.g. ``expect_column_pair_values_a_to_be_greater_than_b``.
    column : str or None
        Column(s) it looks at (``"high, low"`` for a pair; ``"ts"`` for the grid checks); None for
        table-level expectations.
    success : bool
        Whether it passed.
    unexpected_count : int
        Rows (bars, or grid slots for ``grid_coverage``) that broke it; 0 for table-level ones.
    examples : list of dict
        Up to five offending rows, each with its ``ts`` (ISO 8601) and the row's values.
    check : str
        Short name from the suite (``meta.check``), e.g. ``high_ge_low``; the type when absent.
    observed_value : object
        What a table-level expectation measured (e.g. the row count), JSON-safe; else None.
    exception : str or None
        Why the expectation could not be evaluated (e.g. a missing column); None when it ran.
    """

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    check: str = ""
    observed_value: Any = None
    exception: str | None = None

    @property
    def name(self) -> str:
        """The check's short name, falling back to the expectation type."""
        return self.check or self.expectation

    def describe(self) -> str:
        """One phrase saying what failed, e.g. ``high_ge_low (2 rows, e.g. ts=2020-01-03T00:00:00+00:00)``."""
        if self.exception:
            return f"{self.name} (could not run: {self.exception})"
        if self.unexpected_count:
            first = self.examples[0]["ts"] if self.examples and "ts" in self.examples[0] else None
            unit = "row" if self.unexpected_count == 1 else "rows"
            suffix = f", e.g. ts={first}" if first else ""
            return f"{self.name} ({self.unexpected_count} {unit}{suffix})"
        if self.observed_value is not None:
            return f"{self.name} (observed {self.observed_value})"
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every field."""
        return {
            "check": self.name,
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "examples": [json_safe(example) for example in self.examples],
            "observed_value": json_safe(self.observed_value),
            "exception": self.exception,
        }


@dataclass(frozen=True)
class QualityReport:
    """Result of :func:`pipeline.quality.validate_bars`: the suite's outcomes plus grid coverage.

    Attributes
    ----------
    success : bool
        True when every expectation passed.
    suite : str
        Name of the suite that ran (``ohlcv_equity``, ``ohlcv_crypto``, ...).
    coverage : float
        ``present_bars / expected_bars`` (0.0 when no bar was expected).
    expected_bars : int
        Bar open times the grid expects between ``start`` and ``end``.
    present_bars : int
        Expected open times that have a bar.
    missing : tuple of pandas.Timestamp
        The first missing open times (at most ``MAX_LISTED``).
    off_grid : tuple of pandas.Timestamp
        The first bars whose open time the grid does not expect (at most ``MAX_LISTED``).
    results : tuple of ExpectationOutcome
        One outcome per expectation, in suite order.
    asset_class, timeframe : str
        What the bars were validated as.
    start, end : pandas.Timestamp or None
        The half-open window ``[start, end)`` of the expected grid (None when there were no bars and no window).
    rows : int
        Bars validated.
    unchecked_bars : int
        Bars outside the calendar's range, whose place on the grid could not be checked.
    notes : tuple of str
        Caveats worth reading (e.g. a window reaching past the exchange calendar's range).
    """

    success: bool
    suite: str
    coverage: float
    expected_bars: int
    present_bars: int
    missing: tuple[pd.Timestamp, ...]
    off_grid: tuple[pd.Timestamp, ...]
    results: tuple[ExpectationOutcome, ...]
    asset_class: str = ""
    timeframe: str = ""
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    rows: int = 0
    unchecked_bars: int = 0
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        """The outcomes that did not pass."""
        return tuple(outcome for outcome in self.results if not outcome.success)

    def outcome(self, check: str) -> ExpectationOutcome:
        """The outcome of the check named ``check`` (``meta.check`` in the suite, or the type).

        Raises
        ------
        KeyError
            If the suite has no such check.
        """
        for result in self.results:
            if check in (result.check, result.expectation):
                return result
        raise KeyError(f"suite {self.suite} has no check {check!r}")

    def summary_line(self) -> str:
        """One line: verdict, bars, coverage, and the failed checks."""
        verdict = "PASSED" if self.success else "FAILED"
        passed = len(self.results) - len(self.failed)
        line = (
            f"{self.suite} [{self.asset_class} {self.timeframe}]: {verdict} {passed}/{len(self.results)} expectations, "
            f"{self.rows} bars, coverage {self.coverage:.2%} ({self.present_bars}/{self.expected_bars})"
        )
        if self.failed:
            line += "; failed: " + "; ".join(outcome.describe() for outcome in self.failed)
        if self.unchecked_bars:
            line += f"; {self.unchecked_bars} bars outside the calendar were not checked against the grid"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (timestamps as ISO 8601 strings, NaN as None)."""
        return {
            "success": self.success,
            "suite": self.suite,
            "asset_class": self.asset_class,
            "timeframe": self.timeframe,
            "start": json_safe(self.start),
            "end": json_safe(self.end),
            "rows": self.rows,
            "coverage": json_safe(self.coverage),
            "expected_bars": self.expected_bars,
            "present_bars": self.present_bars,
            "missing": [json_safe(ts) for ts in self.missing],
            "off_grid": [json_safe(ts) for ts in self.off_grid],
            "unchecked_bars": self.unchecked_bars,
            "notes": list(self.notes),
            "failed": [outcome.name for outcome in self.failed],
            "results": [outcome.to_dict() for outcome in self.results],
        }

    def to_markdown(self) -> str:
        """A Markdown summary: the verdict, one table row per expectation, missing/off-grid bars, notes."""
        lines = [f"**{self.summary_line()}**", ""]
        window = f"{_iso(self.start)} .. {_iso(self.end)}" if self.start is not None else "-"
        lines.append(f"Window: {window}")
        lines += ["", "| check | expectation | column | result | unexpected | examples |", "|---|---|---|---|---|---|"]
        for outcome in self.results:
            result = "pass" if outcome.success else "**FAIL**"
            detail = _example_cell(outcome)
            lines.append(
                f"| {outcome.name} | `{outcome.expectation}` | {outcome.column or ''} | {result} "
                f"| {outcome.unexpected_count} | {detail} |"
            )
        if self.missing:
            lines += ["", f"Missing bars (first {len(self.missing)}): " + ", ".join(_iso(ts) for ts in self.missing)]
        if self.off_grid:
            lines += ["", f"Off-grid bars (first {len(self.off_grid)}): " + ", ".join(_iso(ts) for ts in self.off_grid)]
        for note in self.notes:
            lines += ["", f"Note: {note}"]
        return "\n".join(lines) + "\n"


def raise_for_failure(report: QualityReport, what: str) -> QualityReport:
    """Raise :class:`DataQualityError` when ``report`` failed; return it unchanged otherwise.

    Parameters
    ----------
    report : QualityReport
        The report of :func:`pipeline.quality.validate_bars`.
    what : str
        The series, e.g. ``"AAPL 1d (sample)"``; it leads the message.

    Raises
    ------
    DataQualityError
        One line naming ``what``, the suite and each failed expectation with its count and first example.
    """
    if report.success:
        return report
    failed = "; ".join(outcome.describe() for outcome in report.failed) or "no expectation ran"
    raise DataQualityError(f"{what}: bars failed data-quality suite {report.suite}: {failed}")


def json_safe(value: Any) -> Any:
    """``value`` with timestamps as ISO 8601 strings, NumPy scalars as Python ones and NaN as None."""
    if value is None or value is pd.NaT or isinstance(value, bool | str | int):
        return None if value is pd.NaT else value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        return json_safe(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, pd.Timedelta):
        return str(value)
    return str(value)


def _iso(ts: pd.Timestamp | None) -> str:
    return "-" if ts is None else ts.isoformat()


def _example_cell(outcome: ExpectationOutcome) -> str:
    if outcome.exception:
        return f"could not run: {outcome.exception}".replace("|", "/")
    if outcome.examples:
        shown = []
        for example in outcome.examples[:2]:
            shown.append(", ".join(f"{key}={_short(value)}" for key, value in example.items()))
        more = " …" if len(outcome.examples) > 2 or outcome.unexpected_count > 2 else ""
        return "; ".join(shown).replace("|", "/") + more
    if outcome.observed_value is not None:
        return f"observed {outcome.observed_value}"
    return ""


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
