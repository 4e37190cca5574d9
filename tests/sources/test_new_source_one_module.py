"""A new data source is one new module: drop ``<name>.py`` on the sources package path and it is found.

The module below is written to a temporary folder added to ``pipeline.sources.__path__`` (what a file placed
in ``pipeline/sources/`` is), and nothing else is edited: no list of sources, no URL or key table, no symbol
map. It is then listed, configured, and ingested through like a built-in source.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import pipeline.sources as sources_package
from pipeline.sources import base, get_source, source_asset_class, source_names
from pipeline.sources._common import redact

EXAMPLE_MODULE = textwrap.dedent(
    '''
    """Example source: a deterministic hourly crypto series, with its URL, key and symbol map in this file."""

    import numpy as np
    import pandas as pd

    from pipeline.sources.base import BarSource, register_source

    #: This source's own symbol notation.
    EXAMPLE_SYMBOLS = {"BTCUSDT": "btc-usdt"}


    @register_source
    class ExampleSource(BarSource):
        name = "example"
        asset_class = "crypto"
        default_url = "https://example.invalid/api"
        url_variable = "QUANTGATE_EXAMPLE_URL"
        key_variables = ("EXAMPLE_API_KEY",)

        def fetch(self, symbol, timeframe, start, end):
            EXAMPLE_SYMBOLS[symbol]  # an unknown symbol fails here
            index = pd.date_range(start.ceil("h"), end, freq="h", inclusive="left", tz="UTC", name="ts")
            close = 100.0 + np.arange(len(index), dtype="float64")
            return pd.DataFrame(
                {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 10.0}, index=index
            )
    '''
)


@pytest.fixture
def example_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "more_sources"
    folder.mkdir()
    module = folder / "example.py"
    module.write_text(EXAMPLE_MODULE)
    # Built-in sources register on first import, which happens once per process: register them in the real
    # registry before the copy below stands in for it, or they would be gone from it after this test.
    base._discover()
    monkeypatch.setattr(sources_package, "__path__", [*sources_package.__path__, str(folder)])
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # the registration ends with the test
    yield module
    sys.modules.pop("pipeline.sources.example", None)


def test_new_source_when_added_as_one_module_is_listed_after_the_built_in_ones(example_source):
    names = source_names()
    assert names[-1] == "example"
    assert names[:-1] == ["sample", "polygon", "binance", "alpaca", "coingecko", "geckoterminal", "file"]
    assert source_asset_class("example") == "crypto"


def test_new_source_when_added_as_one_module_carries_its_own_url_and_keys(example_source, monkeypatch):
    source = get_source("example")
    assert source.base_url() == "https://example.invalid/api"
    monkeypatch.setenv("QUANTGATE_EXAMPLE_URL", "http://127.0.0.1:9/")
    assert source.base_url() == "http://127.0.0.1:9"
    monkeypatch.setenv("EXAMPLE_API_KEY", "example-secret-key")
    assert redact("failed with key example-secret-key") == "failed with key ***"


def test_new_source_when_added_as_one_module_is_ingested_into_the_store(example_source, qg_home):
    from pipeline.ingest import ingest
    from pipeline.store import BarStore

    report = ingest("example", "BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert (report.chunks_done, report.fetched, report.inserted) == (1, 48, 48)
    stored = BarStore().load("BTCUSDT", "1h", sources="example")
    assert len(stored) == 48
    assert stored["close"].iloc[0] == 100.0 and stored["close"].iloc[-1] == 147.0
    assert stored.index[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_new_source_when_named_in_an_experiment_passes_the_config_checks(example_source, tmp_path):
    from pipeline.config import load_experiment
    from pipeline.experiment.checks import semantic_errors

    text = Path(__file__).parents[2].joinpath("experiments", "aapl_triple_barrier.yaml").read_text()
    for name, expected in (("example", []), ("nosuch", ["unknown data source 'nosuch'"])):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("source: sample", f"source: {name}"))
        problems = [e for e in semantic_errors(load_experiment(path), path) if "data.source" in e]
        assert [e.split(": ", 2)[2].split(" (")[0] for e in problems] == expected
