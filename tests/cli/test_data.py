"""`quantgate ingest | bars | gaps | gapfill` against the fake market-data services: what is stored, and one
clean error line per failure."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.gaps import find_gaps
from pipeline.store import BarStore
from quantgate.cli.data import app
from tests.fakes.fixtures import hourly_crypto, punch
from tests.ingest.test_ingest import END, START, _served, _window

runner = CliRunner()
HOLES = (("2024-01-03 05:00", "2024-01-03 09:00"), ("2024-01-07 13:00", "2024-01-07 13:00"))
WINDOW = "binance: BTCUSDT [2024-01-01, 2024-01-11)"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_cli_ingest_binance_when_run_twice_stores_exactly_the_served_bars_once(binance_fake, qg_home):
    served = _window(_served(binance_fake))
    args = ["ingest", "binance", "BTCUSDT", "1h", "--start", START, "--end", END, "--chunk-days", "3"]

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"inserted {len(served)}, updated 0, unchanged 0" in first.output

    stored = BarStore().load("BTCUSDT", "1h", sources=["binance"])
    assert (stored["source"] == "binance").all()
    pd.testing.assert_frame_equal(stored.drop(columns="source"), served, check_freq=False)

    klines_before = len(binance_fake.data_requests("klines"))
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "inserted 0, updated 0, unchanged 0" in second.output
    assert "skipped as already complete" in second.output
    assert len(binance_fake.data_requests("klines")) == klines_before  # nothing fetched again
    assert len(BarStore().load("BTCUSDT", "1h")) == len(served)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("garbage", "malformed payload"), ("401", "HTTP 401"), ("500", "gave up after 4 attempts")],
)
def test_cli_ingest_when_a_permanent_failure_is_scripted_prints_one_line_and_writes_nothing(
    binance_fake, qg_home, kind, expected
):
    _served(binance_fake)
    binance_fake.fail(kind, match="klines", times=10)
    result = runner.invoke(app, ["ingest", "binance", "BTCUSDT", "1h", "--start", START, "--end", END])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "binance: BTCUSDT [2024-01-01, 2024-01-11)" in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert BarStore().summary().empty


def test_cli_ingest_when_the_symbol_is_unknown_names_it_in_one_line(binance_fake, qg_home):
    result = runner.invoke(app, ["ingest", "binance", "NOPEUSDT", "1h", "--start", START, "--end", END])
    assert result.exit_code == 1
    assert "unknown symbol NOPEUSDT" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1:]) == 1
    assert BarStore().summary().empty


def test_cli_bars_when_a_series_is_stored_lists_it_and_unknown_sources_fail_cleanly(binance_fake, qg_home):
    served = _window(_served(binance_fake))
    assert runner.invoke(app, ["ingest", "binance", "BTCUSDT", "1h", "--start", START, "--end", END]).exit_code == 0
    listed = runner.invoke(app, ["bars"])
    assert listed.exit_code == 0
    assert "binance" in listed.output and "BTCUSDT" in listed.output and str(len(served)) in listed.output
    bad = runner.invoke(app, ["ingest", "nosuch", "BTCUSDT", "1h", "--start", START, "--end", END])
    assert bad.exit_code == 1
    assert (
        bad.stderr.strip()
        == "error: unknown data source 'nosuch'; known: sample, polygon, binance, alpaca, coingecko, geckoterminal, "
        "file"
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("empty", "malformed payload (empty body)"),
        ("object", "malformed payload (a JSON object with keys unexpected, expected a list of klines)"),
        ("scalar", "malformed payload (str, expected a list of klines)"),
        ("short_rows", "malformed payload (row 0 has 2 fields, expected at least 6)"),
        ("strings", "malformed payload (row 0: open 'abc' is not a number)"),
        ("garbage", "malformed payload (response is not JSON: <html><body>502 Bad Gateway</body></html>)"),
    ],
)
def test_cli_ingest_when_the_body_is_malformed_prints_one_clean_line(binance_fake, short_deadlines, kind, expected):
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 10))
    binance_fake.fail(kind, match="klines", times=10)
    result = runner.invoke(app, ["ingest", "binance", "BTCUSDT", "1h", "--start", START, "--end", END])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {WINDOW}: {expected}"], result.stderr
    assert "KeyError" not in result.output and "Traceback" not in result.output
    assert BarStore().summary().empty


def test_cli_gaps_and_gapfill_when_binance_has_holes_fill_them_from_alpaca_with_provenance(
    binance_fake, alpaca_fake, qg_home
):
    full = hourly_crypto(n=24 * 12)
    primary = binance_fake.add("BTCUSDT", "1h", punch(full, *HOLES))
    # The secondary feed reports a tenth of the volume (as some USD pairs do) and its own prices.
    secondary = alpaca_fake.add("BTC/USDT", "1h", full.assign(volume=full["volume"] / 10, close=full["close"] + 0.5))
    window = ["--start", "2024-01-01", "--end", "2024-01-10"]
    assert runner.invoke(app, ["ingest", "binance", "BTCUSDT", "1h", *window]).exit_code == 0

    listed = runner.invoke(app, ["gaps", "BTCUSDT", "1h", "--source", "binance", *window])
    assert listed.exit_code == 0, listed.output
    assert "2 gaps, 6 missing bars" in listed.output
    assert "2024-01-03 05:00" in listed.output and "2024-01-03 09:00" in listed.output
    assert "2024-01-07 13:00" in listed.output

    filled = runner.invoke(app, ["gapfill", "BTCUSDT", "1h", "--from", "alpaca", "--source", "binance", *window])
    assert filled.exit_code == 0, filled.output
    assert "filled 6 bars from alpaca, 0 bars still missing" in filled.output
    assert "volume coverage" in filled.output

    # Exactly the missing windows were asked for.
    asked = [(r.query["start"], r.query["end"]) for r in alpaca_fake.data_requests("/bars")]
    assert [(_utc(a), _utc(b)) for a, b in asked] == [
        (_utc("2024-01-03 05:00"), _utc("2024-01-03 09:59:59.999")),  # the API end is inclusive
        (_utc("2024-01-07 13:00"), _utc("2024-01-07 13:59:59.999")),
    ]
    merged = BarStore().load("BTCUSDT", "1h", "2024-01-01", "2024-01-10", sources=["binance", "alpaca"])
    assert len(merged) == 240 and not merged.index.has_duplicates
    from_alpaca = merged.index[merged["source"] == "alpaca"]
    assert list(from_alpaca) == list(full.index.difference(primary.index))
    assert (merged.loc[from_alpaca, "close"] == secondary.loc[from_alpaca, "close"]).all()
    assert (merged.loc[merged["source"] == "binance", "close"] == primary["close"].reindex(merged.index).dropna()).all()
    assert (
        find_gaps(BarStore(), "BTCUSDT", "1h", source=["binance", "alpaca"], start="2024-01-01", end="2024-01-10 23:00")
        == []
    )

    again = runner.invoke(app, ["gapfill", "BTCUSDT", "1h", "--from", "alpaca", "--source", "binance", *window])
    assert "0 gaps (0 bars) before" in again.output
