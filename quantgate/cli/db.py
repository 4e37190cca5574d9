"""`quantgate db ...`: quantgate's own database."""

from __future__ import annotations

import typer

from quantgate.cli._common import console, one_line_errors

app = typer.Typer(
    help="quantgate's databases: its own (bars, ingestion log, promotion history) and MLflow's.", no_args_is_help=True
)


@app.command("init")
@one_line_errors
def init(
    mlflow_db: str = typer.Option(
        None,
        "--mlflow-db",
        help="MLflow's database when MLFLOW_TRACKING_URI is not one, e.g. the backend store of an "
        "`mlflow server` (postgresql+psycopg://user@host/quantgate_mlflow).",
    ),
) -> None:
    """Create quantgate's database and MLflow's (if missing) and bring both to the newest schema."""
    from pipeline import settings
    from pipeline.store import create_database, get_engine

    url = settings.db_url()
    created = create_database(url)
    get_engine(url)
    console.print(
        f"quantgate database {settings.redact_url(url)}: {'created, ' if created else ''}at the newest schema",
        highlight=False,
    )
    tracking = mlflow_db or settings.mlflow_tracking_uri()
    if not _is_database_url(tracking):
        console.print(
            f"MLflow at {tracking} is a tracking server: it keeps its own database "
            "(create that one with `quantgate db init --mlflow-db URL`)",
            highlight=False,
        )
        return
    created = create_database(tracking)
    _init_mlflow_schema(tracking)
    console.print(
        f"MLflow database {settings.redact_url(tracking)}: {'created, ' if created else ''}at the newest schema",
        highlight=False,
    )


def _is_database_url(uri: str) -> bool:
    return uri.split(":", 1)[0].split("+", 1)[0].lower() in {"sqlite", "postgresql"}


def _init_mlflow_schema(uri: str) -> None:
    """Let MLflow create or migrate its tables (its SQL store does so when it opens a database)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipeline import settings
    from pipeline.errors import StoreError

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except MlflowException as exc:
        reason = " ".join(str(exc).split())[:300]
        raise StoreError(f"cannot set up MLflow's database {settings.redact_url(uri)}: {reason}") from exc


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
