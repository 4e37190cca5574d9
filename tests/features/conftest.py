"""Fixtures for feature tests: plugin modules written to a temporary folder on ``sys.path``."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.features import registered_groups, unregister_group


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write plugin modules from source text and return their importable names.

    Groups they register and the modules themselves are removed after the test.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = set(registered_groups())
    created: list[str] = []

    def write(source: str, name: str | None = None) -> str:
        name = name or f"qg_test_plugin_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        created.append(name)
        return name

    yield write
    for group in set(registered_groups()) - before:
        unregister_group(group)
    for name in created:
        sys.modules.pop(name, None)
