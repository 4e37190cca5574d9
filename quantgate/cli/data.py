"""``quantgate ingest | gaps | gapfill | bars``: market data in and out of the bar store.

Every command is a top-level command of :data:`app`, so the main CLI can either ``add_typer`` this
app or copy its ``registered_commands``. Platform errors print one line on stderr and exit 1.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from quantgate.cli._common import console, err_console, one_line_errors

app = typer.Typer(help="Market data: ingest, find and fill gaps, list stored series.", no_args_is_help=True)


def _fmt(ts: Any) -> str:
    import pandas as pd

    ts = pd.Timestamp(ts)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


@app.command("ingest")
@one_line_errors
def ingest_command(
    source: str = typer.Argument(..., help="Data source: binance, polygon, alpaca, coingecko, geckoterminal, sample."),
    symbol: str = typer.Argument(..., help="Symbol in quantgate notation, e.g. BTCUSDT or AAPL."),
    timeframe: str = typer.Argument(..., help="Timeframe: 1m 5m 15m 1h 4h 1d."),
    start: str = typer.Option(..., "--start", help="First day or timestamp (UTC, inclusive)."),
    end: str = typer.Option(..., "--end", help="Last day (whole day included) or timestamp (UTC, exclusive)."),
    chunk_days: float | None = typer.Option(None, "--chunk-days", help="Chunk length in days (default per timeframe)."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Re-fetch chunks an earlier run completed."),
) -> None:
    """Fetch a window of bars from a source into the bar store (chunked, resumable, idempotent)."""
    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.ingest import ChunkResult, ingest
    from pipeline.sources import get_source

    get_source(source)  # an unknown source fails before any progress is drawn
    chunk = pd.Timedelta(days=chunk_days) if chunk_days else None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(f"{source} {symbol} {timeframe}", total=None, rows=0)
        rows = 0

        def on_chunk(result: ChunkResult) -> None:
            nonlocal rows
            rows += result.fetched
            bar.update(task, total=result.total, completed=result.index, rows=rows)

        report = ingest(source, symbol, timeframe, start, end, chunk=chunk, progress=on_chunk, resume=not no_resume)
    console.print(
        f"{source} {symbol} {timeframe} [{_fmt(report.start)}, {_fmt(report.end)}): "
        f"inserted {report.inserted}, updated {report.updated}, unchanged {report.unchanged} "
        f"({report.chunks_done} chunks fetched, {report.chunks_skipped} skipped as already complete)",
        highlight=False,
    )


def _optional_window(start: str | None, end: str | None) -> tuple[Any, Any]:
    """Both ends of ``--start/--end`` resolved, or (None, None) for the whole stored series."""
    from pipeline.ingest import resolve_window

    if start is None and end is None:
        return None, None
    if start is None or end is None:
        raise typer.BadParameter("give both --start and --end, or neither")
    window = resolve_window(start, end)
    return window.start, window.end


@app.command("gaps")
@one_line_errors
def gaps_command(
    symbol: str = typer.Argument(..., help="Symbol in quantgate notation."),
    timeframe: str = typer.Argument(..., help="Timeframe: 1m 5m 15m 1h 4h 1d."),
    source: list[str] | None = typer.Option(None, "--source", help="Count only bars from this source (repeatable)."),
    start: str | None = typer.Option(None, "--start", help="Window start (default: first stored bar)."),
    end: str | None = typer.Option(None, "--end", help="Window end (default: last stored bar)."),
    asset_class: str | None = typer.Option(None, "--asset-class", help="equity or crypto (default: from source)."),
) -> None:
    """List windows of expected bars that the store does not hold."""
    from pipeline.gaps import find_gaps
    from pipeline.store import BarStore

    lo, hi = _optional_window(start, end)
    gaps = find_gaps(BarStore(), symbol, timeframe, source=source or None, start=lo, end=hi, asset_class=asset_class)
    if not gaps:
        console.print(f"{symbol} {timeframe}: no gaps", highlight=False)
        return
    table = Table(title=f"{symbol} {timeframe}: {len(gaps)} gaps, {sum(g.missing_bars for g in gaps)} missing bars")
    for column in ("first missing", "last missing", "bars"):
        table.add_column(column)
    for gap in gaps:
        table.add_row(_fmt(gap.start), _fmt(gap.end), str(gap.missing_bars))
    console.print(table)


@app.command("gapfill")
@one_line_errors
def gapfill_command(
    symbol: str = typer.Argument(..., help="Symbol in quantgate notation."),
    timeframe: str = typer.Argument(..., help="Timeframe: 1m 5m 15m 1h 4h 1d."),
    from_source: str = typer.Option(..., "--from", help="Secondary source that fills the holes."),
    source: list[str] | None = typer.Option(None, "--source", help="Primary source(s) (default: all stored)."),
    start: str | None = typer.Option(None, "--start", help="Window start (default: first stored bar)."),
    end: str | None = typer.Option(None, "--end", help="Window end (default: last stored bar)."),
    asset_class: str | None = typer.Option(None, "--asset-class", help="equity or crypto (default: from source)."),
) -> None:
    """Fetch exactly the missing bars from a secondary source; they are stored under its name."""
    from pipeline.gaps import fill_gaps
    from pipeline.store import BarStore

    lo, hi = _optional_window(start, end)
    report = fill_gaps(
        BarStore(), symbol, timeframe, from_source, source=source or None, start=lo, end=hi, asset_class=asset_class
    )
    console.print(
        f"{symbol} {timeframe}: {len(report.gaps_before)} gaps ({report.missing_before} bars) before, "
        f"filled {report.filled} bars from {from_source}, {report.missing_after} bars still missing",
        highlight=False,
    )
    if not report.volume.empty:
        table = Table(title="volume coverage by source")
        for column in report.volume.columns:
            table.add_column(column)
        for row in report.volume.itertuples(index=False):
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)


@app.command("bars")
@one_line_errors
def bars_command(
    symbol: str | None = typer.Argument(None, help="Only this symbol."),
) -> None:
    """List stored series: source, symbol, timeframe, rows, first and last bar."""
    from pipeline.store import BarStore

    summary = BarStore().summary(symbol)
    if summary.empty:
        console.print("no bars stored", highlight=False)
        return
    table = Table()
    for column in summary.columns:
        table.add_column(column)
    for row in summary.itertuples(index=False):
        table.add_row(
            *(
                _fmt(v) if column in ("first", "last") else str(v)
                for column, v in zip(summary.columns, row, strict=True)
            )
        )
    console.print(table)
