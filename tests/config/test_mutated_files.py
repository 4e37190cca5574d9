"""Shipped hypothesis files, mutated at random, are either loaded or refused with one-line ConfigErrors
(the hand-written corpus of malformed files and `quantgate check`: tests/cli/test_check.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.config import load_experiments
from pipeline.errors import ConfigError
from pipeline.experiment import semantic_errors
from tests.conftest import REPO

FUZZ_TOKENS = (
    "&a ", "*a", "<<: ", "!!int ", "!!float ", ".nan", ".inf", "-1", "0", "1e400", "true", "'yes'", "[", "]", "{",
    "}", ":", "- ", "~", "2999-01-01", "1900-01-01", "99999999999999999999", "\t", "\x00", "!!python/name:os.system ",
    "? ", "|",
)  # fmt: skip


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        j = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.35:
            k = rng.randrange(len(lines[j]) + 1)
            lines[j] = lines[j][:k] + rng.choice(FUZZ_TOKENS) + lines[j][k:]
        elif op < 0.55:
            del lines[j]
        elif op < 0.75:
            lines.insert(j, lines[rng.randrange(len(lines))])
        elif op < 0.9:
            lines[j] = lines[j][: rng.randrange(len(lines[j]) + 1)]
        elif ":" in lines[j]:
            lines[j] = lines[j].split(":", 1)[0] + ": " + rng.choice(FUZZ_TOKENS)
    return "\n".join(lines)


@pytest.mark.slow
def test_load_when_shipped_files_are_mutated_raises_only_one_line_config_errors(tmp_path: Path) -> None:
    rng = random.Random(20261203)
    sources = [p.read_text() for p in sorted((REPO / "experiments").rglob("*.yaml"))]
    path = tmp_path / "mutant.yaml"
    refused = 0
    for _ in range(300):
        path.write_text(_mutate(rng.choice(sources), rng))
        try:
            for config in load_experiments(path):
                semantic_errors(config, path)
        except ConfigError as exc:  # anything else escaping fails the test
            refused += 1
            assert all("\n" not in line and line.startswith((f"{path}: ", f"{path} [")) for line in exc.errors), (
                exc.errors
            )
    assert refused > 100  # the mutations do produce bad files
