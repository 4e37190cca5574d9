"""`quantgate validate`: run the data-quality suite on stored bars."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from quantgate.cli._common import console, one_line_errors, quiet_orchestration

app = typer.Typer()


@app.command("validate")
@one_line_errors
def validate(
    source: str = typer.Argument(..., help="Source whose stored bars to check (e.g. sample)."),
    symbol: str = typer.Argument(..., help="Symbol, e.g. AAPL."),
    timeframe: str = typer.Argument(..., help="Timeframe: 1m 5m 15m 1h 4h 1d."),
    start: str | None = typer.Option(None, "--start", help="First day (default: first stored bar)."),
    end: str | None = typer.Option(None, "--end", help="Last day (default: last stored bar)."),
    min_coverage: float = typer.Option(1.0, "--min-coverage", help="Share of the expected bar grid required."),
    as_json: bool = typer.Option(False, "--json", help="Print the structured report as JSON."),
) -> None:
    """Run the Great Expectations suite for the series; list failed expectations with example rows."""
    quiet_orchestration(False)
    from pipeline.errors import StoreError
    from pipeline.quality import validate_bars
    from pipeline.sources import source_asset_class
    from pipeline.store import BarStore

    bars = BarStore().load(symbol, timeframe, start, end, sources=[source])
    if bars.empty:
        raise StoreError(
            f"no stored bars for {source}:{symbol} {timeframe}; run `quantgate ingest {source} {symbol} {timeframe} "
            "--start ... --end ...` first"
        )
    report = validate_bars(
        bars.drop(columns="source"),
        asset_class=source_asset_class(source),
        timeframe=timeframe,
        start=start,
        end=end,
        min_coverage=min_coverage,
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        console.print(report.summary_line(), highlight=False)
        for outcome in report.failed:
            console.print(
                f"[red]x[/] {outcome.check}: {outcome.expectation} on {outcome.column or '-'} "
                f"({outcome.unexpected_count} unexpected)",
                highlight=False,
            )
            if outcome.examples:
                table = Table(*outcome.examples[0].keys(), show_edge=False)
                for row in outcome.examples:
                    table.add_row(*(str(v) for v in row.values()))
                console.print(table)
    if not report.success:
        raise typer.Exit(1)
