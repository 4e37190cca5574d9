"""`quantgate server start|stop|status`: one background Prefect server, reused, never left running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantgate.cli import server

pytestmark = [pytest.mark.slow]


@pytest.fixture
def stopped_after(qg_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in ("PREFECT_API_URL", "QUANTGATE_SERVER"):
        # set, then delete: monkeypatch then restores the original value or its absence, so the URL that
        # use_background_server() writes into os.environ does not leak into later tests of this worker
        monkeypatch.setenv(var, "placeholder")
        monkeypatch.delenv(var)
    try:
        yield qg_home
    finally:
        server.stop()


def test_server_when_started_is_reused_then_stopped_leaves_nothing(stopped_after: Path) -> None:
    first = server.start()
    assert server.start() == first  # a second start reuses it
    assert server.use_background_server() == first.url == os.environ["PREFECT_API_URL"]
    assert server.stop() == first.pid
    assert server.status() is None
    assert not (stopped_after / "prefect-server" / "server.pid").exists()


def test_status_when_pid_file_is_stale_removes_it(stopped_after: Path) -> None:
    folder = stopped_after / "prefect-server"
    folder.mkdir(parents=True)
    (folder / "server.pid").write_text("999999999\n")
    (folder / "server.port").write_text("1\n")
    assert server.status() is None
    assert not (folder / "server.pid").exists()


def test_use_background_server_when_api_url_set_honours_it(
    stopped_after: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert server.use_background_server() == "http://127.0.0.1:9/api"
    assert server.status() is None  # nothing started
