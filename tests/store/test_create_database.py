"""create_database: a missing PostgreSQL database is created once, through the server's `postgres` database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipeline.errors import StoreError
from pipeline.store import create_database
from tests.conftest import PG_ADMIN_URL, _drop_database


@pytest.mark.postgres
def test_create_database_when_postgres_database_missing_creates_it_then_leaves_it() -> None:
    name = f"qg_create_{uuid.uuid4().hex[:10]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        assert create_database(url) is True
        assert create_database(url) is False
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == name
        engine.dispose()
    finally:
        _drop_database(name)


def test_create_database_when_sqlite_file_missing_creates_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'quantgate.db'}"
    assert create_database(url) is True
    assert (tmp_path / "a" / "b").is_dir()


def test_create_database_when_server_unreachable_fails_in_one_line_without_password() -> None:
    with pytest.raises(StoreError) as info:
        create_database("postgresql+psycopg://qg:s3cret@127.0.0.1:1/quantgate")
    message = str(info.value)
    assert "\n" not in message and "s3cret" not in message and "quantgate" in message


def test_create_database_when_backend_unsupported_says_which() -> None:
    with pytest.raises(StoreError, match="only postgresql and sqlite"):
        create_database("mysql+pymysql://u@127.0.0.1/quantgate")
