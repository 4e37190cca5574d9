"""`quantgate db ...`: quantgate's own database."""

from __future__ import annotations

import typer

from quantgate.cli._common import console, one_line_errors, quiet_orchestration

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
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show MLflow's and Alembic's own logs."),
) -> None:
    """Create quantgate's database and MLflow's (if missing) and bring both to the newest schema."""
    quiet_orchestration(verbose)
    from pipeline import settings
    from pipeline.store import create_database, ensure_schema

    url = settings.db_url()
    created = create_database(url)
    ensure_schema(url)
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
    """Create MLflow's tables in an empty database, or migrate them: what `mlflow db upgrade URI` does."""
    from mlflow.db import upgrade
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline import settings
    from pipeline.errors import StoreError

    try:
        upgrade.callback(uri)
    except (MlflowException, SQLAlchemyError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise StoreError(f"cannot set up MLflow's database {settings.redact_url(uri)}: {reason}") from exc
