"""`quantgate db ...`: quantgate's own database."""

from __future__ import annotations

import typer

from quantgate.cli._common import console, one_line_errors

app = typer.Typer(help="quantgate's own database (bars, ingestion log, promotion history).", no_args_is_help=True)


@app.command("upgrade")
@one_line_errors
def upgrade() -> None:
    """Apply database migrations (they also run automatically on first use)."""
    from pipeline import settings
    from pipeline.store import get_engine

    get_engine()
    console.print(f"database at {settings.redact_url(settings.db_url())} is at the newest schema")


@app.command("url")
def url() -> None:
    """Print the database URL in use (password hidden)."""
    from pipeline import settings

    console.print(settings.redact_url(settings.db_url()), highlight=False)
