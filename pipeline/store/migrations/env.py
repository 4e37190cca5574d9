"""Alembic environment: run against the connection quantgate hands over (no alembic.ini needed)."""

from alembic import context

from pipeline.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # invoked from the alembic CLI with a URL
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # Optuna keeps its own Alembic history in `alembic_version` of the same database; ours is separate.
    version_table="quantgate_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
