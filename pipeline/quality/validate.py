"""Validate canonical bars with a Great Expectations suite and against the expected bar grid.

Two frames are validated, so every finding is an expectation result reported the same way:

* the **bars frame**: ``ts, open, high, low, close, volume`` plus derived columns: ``on_grid`` (whether
  the open time is one the grid expects), ``finite`` (no ±Inf in the bar) and ``jump_score`` (the robust
  jump score of the close-to-close log return, :func:`jump_scores`; the suite holds its threshold);
* the **grid frame**: one row per open time :func:`pipeline.timeframes.expected_grid` expects between
  ``start`` and ``end``, with ``present`` (whether a bar has it).

An expectation runs on the grid frame when its ``meta.frame`` is ``"grid"``, on the bars frame otherwise.
Great Expectations runs in an ephemeral context (nothing written to disk) with progress bars off, and is
imported only when a validation runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.bars import OHLCV_COLUMNS
from pipeline.errors import DataQualityError
from pipeline.quality.report import ExpectationOutcome, QualityReport, json_safe
from pipeline.quality.suites import default_suite_name, read_suite_dict, suite_from_dict, suite_path
from pipeline.timeframes import EQUITY_CALENDAR, AssetClass, bar_length, exchange_calendar, expected_grid
from pipeline.window import TimeLike, end_of, start_of

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition

#: How many missing / off-grid open times a report lists.
MAX_LISTED = 20
#: How many offending rows each expectation outcome carries.
MAX_EXAMPLES = 5

#: Defaults of the robust jump check when the suite's ``jump_score`` expectation gives no ``meta``.
JUMP_WINDOW = 50
JUMP_MIN_SCALE = 1e-3
#: Columns validate_bars derives for the suite; not shown in example rows.
DERIVED_COLUMNS: tuple[str, ...] = ("on_grid", "finite", "jump_score")

BARS_FRAME = "bars"
GRID_FRAME = "grid"
_ORDER_KEY = "quantgate_order"


def validate_bars(
    bars: pd.DataFrame,
    *,
    asset_class: AssetClass,
    timeframe: str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    suite: str | Path | None = None,
    min_rows: int | None = None,
    min_coverage: float = 1.0,
) -> QualityReport:
    """Run the data-quality suite on ``bars`` and check them against the expected bar grid.

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars: indexed by tz-aware ``ts`` (or with a ``ts`` column), columns ``open, high,
        low, close, volume``. Other columns are ignored. The frame is not modified.
    asset_class : {"equity", "crypto"}
        Picks the default suite and the grid (XNYS sessions, or every bar).
    timeframe : str
        One of ``1m 5m 15m 1h 4h 1d``.
    start, end : pandas.Timestamp, datetime.date or str, optional
        Half-open window ``[start, end)`` of the expected grid (:mod:`pipeline.window`: naive means UTC,
        a date-only ``end`` covers its whole day). Default: from the first bar's open to the last bar's
        close, normalised to midnight for ``1d``. Bars outside the window count as off the grid.
    suite : str or pathlib.Path, optional
        Suite name in the expectations folder, or a path to a JSON suite. Default: ``ohlcv_equity`` or
        ``ohlcv_crypto`` from ``asset_class``.
    min_rows : int, optional
        Overrides ``min_value`` of the suite's row-count expectation.
    min_coverage : float, default 1.0
        ``mostly`` of the grid-frame expectations: the share of expected bars that must be present.

    Returns
    -------
    QualityReport
        ``success`` is False when any expectation failed, including for empty bars.

    Raises
    ------
    ValueError
        For an unknown asset class or timeframe, or ``min_coverage``/``min_rows`` out of range.
    DataQualityError
        When the suite cannot be read, or ``bars`` is structurally not a bar frame (no time index,
        naive timestamps).
    """
    bar_length(timeframe)
    suite_ref = suite if suite is not None else default_suite_name(asset_class)
    if asset_class not in ("equity", "crypto"):  # a custom suite skips default_suite_name's check
        raise ValueError(f"unknown asset class {asset_class!r}; expected equity or crypto")
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be between 0 and 1, got {min_coverage}")
    if min_rows is not None and min_rows < 0:
        raise ValueError(f"min_rows must be >= 0, got {min_rows}")
    document = read_suite_dict(suite_ref)
    suite_name = str(document.get("name") or suite_path(suite_ref).stem)

    frame = _bars_frame(bars)
    window_start, window_end = _window(frame["ts"], timeframe, start, end)
    if window_start is not None and window_end is not None:
        grid = expected_grid(timeframe, window_start, window_end, asset_class)
    else:
        grid = pd.DatetimeIndex([], tz="UTC", name="ts")
    checkable, notes = _calendar_scope(frame["ts"], asset_class, window_start, window_end)
    on_grid = frame["ts"].isin(grid).to_numpy() | ~checkable
    frame["on_grid"] = on_grid
    frame["finite"] = _finite(frame)
    window, min_scale = _jump_parameters(document)
    frame["jump_score"] = jump_scores(frame["close"], window=window, min_scale=min_scale)
    present = grid.isin(frame["ts"].dropna())
    grid_frame = pd.DataFrame({"ts": grid, "present": present})
    if frame.empty:
        notes.append("no bars to validate")

    documents = _split(document, min_rows=min_rows, min_coverage=min_coverage)
    frames = {BARS_FRAME: frame, GRID_FRAME: grid_frame}
    outcomes = _run(documents, frames, where=str(suite_path(suite_ref)))

    expected = len(grid)
    present_count = int(present.sum())
    return QualityReport(
        success=all(outcome.success for outcome in outcomes),
        suite=suite_name,
        coverage=present_count / expected if expected else 0.0,
        expected_bars=expected,
        present_bars=present_count,
        missing=tuple(grid[~present][:MAX_LISTED]),
        off_grid=tuple(frame["ts"][~on_grid].iloc[:MAX_LISTED]),
        results=tuple(outcomes),
        asset_class=asset_class,
        timeframe=timeframe,
        start=window_start,
        end=window_end,
        rows=len(frame),
        unchecked_bars=int((~checkable).sum()),
        notes=tuple(notes),
    )


def _finite(frame: pd.DataFrame) -> np.ndarray:
    """Per bar: no ±Inf in any OHLCV column (NaN is left to the not-null checks)."""
    columns = [column for column in OHLCV_COLUMNS if column in frame.columns]
    if not columns:
        return np.ones(len(frame), dtype=bool)
    values = frame[columns].to_numpy(dtype="float64", na_value=np.nan)
    return ~np.isinf(values).any(axis=1)


def _jump_parameters(document: dict[str, Any]) -> tuple[int, float]:
    """``meta.window`` and ``meta.min_scale`` of the suite's ``jump_score`` expectation (defaults otherwise)."""
    for expectation in document.get("expectations", []):
        if (expectation.get("kwargs") or {}).get("column") == "jump_score":
            meta = expectation.get("meta") or {}
            try:
                return int(meta.get("window", JUMP_WINDOW)), float(meta.get("min_scale", JUMP_MIN_SCALE))
            except (TypeError, ValueError):
                raise DataQualityError(
                    f"expectation suite {document.get('name')}: jump_score meta.window/min_scale must be numbers"
                ) from None
    return JUMP_WINDOW, JUMP_MIN_SCALE


def jump_scores(close: pd.Series, *, window: int = 50, min_scale: float = 1e-3) -> np.ndarray:
    """Robust jump score of each bar's close-to-close log return.

    ``|r - median| / max(1.4826 * MAD, min_scale)`` with the median and the median absolute deviation
    taken over a centred rolling window of ``window`` returns (at least a quarter of it present), so one
    bad bar cannot hide itself by inflating the scale. NaN where there is too little history. A 10x one-bar
    spike (log return ±2.3) scores in the hundreds on any ordinary series.
    """
    values = pd.Series(pd.to_numeric(close, errors="coerce"), dtype="float64").reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.log(values.where(values > 0)).diff()
    returns = returns.replace([np.inf, -np.inf], np.nan).where(np.isfinite(values))
    min_periods = max(5, window // 4)
    median = returns.rolling(window, center=True, min_periods=min_periods).median()
    deviation = (returns - median).abs()
    mad = deviation.rolling(window, center=True, min_periods=min_periods).median()
    scale = np.maximum(1.4826 * mad.to_numpy(), min_scale)
    return (deviation.to_numpy() / scale).astype("float64")


def _bars_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """``bars`` as a frame with a ``ts`` column, positional index and the OHLCV columns it has."""
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    source = bars.set_index("ts") if "ts" in bars.columns else bars
    index = source.index
    if len(source) == 0 and not isinstance(index, pd.DatetimeIndex):
        index = pd.DatetimeIndex([], tz="UTC")
    if not isinstance(index, pd.DatetimeIndex):
        raise DataQualityError(
            f"bars: the index must be the bar open time (a tz-aware DatetimeIndex named ts), got {type(index).__name__}"
        )
    if index.tz is None:
        raise DataQualityError("bars: ts is tz-naive; canonical bars are UTC (see pipeline.bars)")
    frame = pd.DataFrame({"ts": index.tz_convert("UTC")})
    for column in OHLCV_COLUMNS:
        if column in source.columns:
            frame[column] = source[column].to_numpy()
        elif len(source) == 0:
            frame[column] = pd.Series([], dtype="float64")
    return frame


def _window(
    ts: pd.Series, timeframe: str, start: TimeLike | None, end: TimeLike | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Half-open window ``[start, end)`` of the grid (:mod:`pipeline.window`: a date-only ``end`` covers its
    whole day); a missing bound falls back to the open of the first bar / the close of the last bar
    (midnight-normalised for ``1d``)."""
    valid = ts.dropna()
    first = valid.min() if len(valid) else None
    last = valid.max() if len(valid) else None
    if timeframe == "1d":
        first = first.normalize() if first is not None else None
        last = last.normalize() if last is not None else None
    lo = start_of(start) if start is not None else first
    hi = end_of(end) if end is not None else (last + bar_length(timeframe) if last is not None else None)
    return lo, hi


def _calendar_scope(
    ts: pd.Series, asset_class: AssetClass, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[Any, list[str]]:
    """Which bars the exchange calendar can place on a grid, and a note when the window exceeds it.

    exchange_calendars builds a calendar for a bounded range of sessions (by default the 20 years up to
    today, plus one ahead), and ``expected_grid`` clamps to it. Outside that range the grid is unknown,
    so those bars are neither "on" nor "off" the grid: they are counted as unchecked and reported.
    """
    checkable = pd.Series(True, index=ts.index).to_numpy()
    if asset_class != "equity":
        return checkable, []

    calendar = exchange_calendar(EQUITY_CALENDAR)  # the very calendar expected_grid uses
    lo = pd.Timestamp(calendar.first_session).tz_localize(None).tz_localize("UTC")
    hi = pd.Timestamp(calendar.last_session).tz_localize(None).tz_localize("UTC") + pd.Timedelta(days=1)
    checkable = ((ts >= lo) & (ts < hi)).to_numpy() | ts.isna().to_numpy()
    notes = []
    outside_window = (start is not None and start < lo) or (end is not None and end > hi)
    if outside_window or not checkable.all():
        notes.append(
            f"the {EQUITY_CALENDAR} calendar covers sessions {lo:%Y-%m-%d}..{hi - pd.Timedelta(days=1):%Y-%m-%d} only "
            f"(exchange_calendars' default range): the grid was checked inside it, and "
            f"{int((~checkable).sum())} bar(s) outside it were not checked against the grid"
        )
    return checkable, notes


def _split(document: dict[str, Any], *, min_rows: int | None, min_coverage: float) -> dict[str, dict[str, Any]]:
    """The suite's expectations split by target frame, with overrides applied and their order recorded."""
    documents: dict[str, dict[str, Any]] = {}
    for order, original in enumerate(document["expectations"]):
        expectation = copy.deepcopy(original)
        expectation.pop("id", None)
        meta = dict(expectation.get("meta") or {})
        target = meta.get("frame", BARS_FRAME)
        if target not in (BARS_FRAME, GRID_FRAME):
            raise DataQualityError(
                f"expectation suite {document.get('name')}: expectation {order} has meta.frame {target!r}; "
                f"expected {BARS_FRAME!r} or {GRID_FRAME!r}"
            )
        meta[_ORDER_KEY] = order
        expectation["meta"] = meta
        kwargs = expectation.setdefault("kwargs", {})
        if expectation.get("type") == "expect_table_row_count_to_be_between" and min_rows is not None:
            kwargs["min_value"] = min_rows
        if target == GRID_FRAME and expectation.get("type", "").startswith("expect_column_values_"):
            kwargs["mostly"] = min_coverage
        part = documents.setdefault(target, {"name": f"{document.get('name', 'suite')}.{target}", "expectations": []})
        part["expectations"].append(expectation)
    return documents


def _run(
    documents: dict[str, dict[str, Any]], frames: dict[str, pd.DataFrame], *, where: str
) -> list[ExpectationOutcome]:
    """Validate each frame with its part of the suite; outcomes in suite order."""
    batch_definition = _batch_definition()
    ranked: list[tuple[int, ExpectationOutcome]] = []
    for target, part in documents.items():
        frame = frames[target]
        suite = suite_from_dict(part, where=where)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        try:
            validation = batch.validate(
                suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES}
            )
        except Exception as exc:  # GE wraps pandas/pydantic errors in many types
            raise DataQualityError(
                f"expectation suite {where}: Great Expectations failed on the {target} frame: {exc}"
            ) from exc
        for result in validation.results:
            config = result.expectation_config
            meta = dict(config.meta or {})
            ranked.append((int(meta.pop(_ORDER_KEY, 0)), _outcome(result, config, meta, frame)))
    ranked.sort(key=lambda item: item[0])
    return [outcome for _, outcome in ranked]


def _batch_definition() -> BatchDefinition:
    """A whole-dataframe batch definition in a fresh ephemeral context, progress bars and analytics off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("quantgate").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


def _outcome(result: Any, config: Any, meta: dict[str, Any], frame: pd.DataFrame) -> ExpectationOutcome:
    kwargs = dict(config.kwargs)
    details = dict(result.result or {})
    rows = details.get("partial_unexpected_index_list") or []
    examples = [_row(frame, index) for index in rows[:MAX_EXAMPLES]]
    return ExpectationOutcome(
        expectation=config.type,
        column=meta.get("column") or _columns(kwargs),
        success=bool(result.success),
        unexpected_count=int(details.get("unexpected_count") or 0),
        examples=[example for example in examples if example],
        check=str(meta.get("check") or ""),
        observed_value=json_safe(details.get("observed_value")),
        exception=_exception_message(result.exception_info),
    )


def _columns(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs:
        return ", ".join(str(column) for column in kwargs["column_list"])
    return None


def _row(frame: pd.DataFrame, index: Any) -> dict[str, Any]:
    """The offending row at position ``index`` as ``{"ts": iso, column: value, ...}`` (JSON-safe)."""
    if isinstance(index, dict):  # GE gives dicts when unexpected_index_column_names is set
        return {str(key): json_safe(value) for key, value in index.items()}
    try:
        row = frame.iloc[int(index)]
    except (TypeError, ValueError, IndexError):
        return {}
    shown = [column for column in frame.columns if column not in DERIVED_COLUMNS]
    return {column: json_safe(row[column]) for column in shown}


def _exception_message(info: Any) -> str | None:
    """The first exception message in GE's ``exception_info`` (flat or keyed by metric), or None."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None
