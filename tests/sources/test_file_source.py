"""The ``file`` source: CSV and Parquet bars, odd column names, naive and aware times, and bad files refused
in one line that names the file and the column or row, with nothing stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_experiment, load_experiments
from pipeline.errors import ConfigError, SourceError
from pipeline.experiment.checks import semantic_errors
from pipeline.ingest import ensure_bars
from pipeline.sources import get_source
from pipeline.sources.file import read_bar_file
from pipeline.store import BarStore

HEADER = "date,open,high,low,close,volume\n"
ROWS = [
    "2021-01-04,10,11,9,10.5,100",
    "2021-01-05,10.5,11.5,10,11,200",
    "2021-01-06,11,12,10.5,11.5,300",
]


def _csv(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _hypothesis(folder: Path, data_path: str, symbol: str = "MYDATA") -> Path:
    path = folder / "h.yaml"
    path.write_text(
        "name: t\nhypothesis: h\n"
        f"data: {{source: file, path: '{data_path}', symbol: {symbol}, timeframe: 1d, "
        "start: 2021-01-01, end: 2021-01-31}\n"
    )
    return path


def test_read_bar_file_when_csv_has_odd_column_names_gives_canonical_utc_bars(tmp_path):
    path = _csv(tmp_path, " Date , OPEN,High,low ,Close,VOLUME,comment\n" + "\n".join(f"{r},x" for r in ROWS) + "\n")
    bars = read_bar_file(path)
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert str(bars.index.tz) == "UTC" and bars.index.name == "ts"
    assert bars.index[0] == pd.Timestamp("2021-01-04", tz="UTC")
    assert bars["close"].tolist() == [10.5, 11.0, 11.5]
    assert bars.dtypes.eq("float64").all()


def test_read_bar_file_when_times_are_aware_converts_them_and_naive_ones_are_utc(tmp_path):
    aware = _csv(tmp_path, "Timestamp,open,high,low,close\n2021-01-04T10:00:00+02:00,1,2,0.5,1.5\n", "a.csv")
    naive = _csv(tmp_path, "datetime,open,high,low,close\n2021-01-04 08:00:00,1,2,0.5,1.5\n", "n.csv")
    assert read_bar_file(aware).index[0] == pd.Timestamp("2021-01-04T08:00", tz="UTC")
    assert read_bar_file(naive).index[0] == pd.Timestamp("2021-01-04T08:00", tz="UTC")
    assert read_bar_file(naive)["volume"].isna().all()  # no volume column: NaN, as for any volume-less source


@pytest.mark.parametrize("aware", [False, True], ids=["naive", "aware"])
def test_read_bar_file_when_parquet_has_a_datetime_column_gives_the_same_bars_as_csv(tmp_path, aware):
    times = pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06"])
    if aware:
        times = times.tz_localize("America/New_York")
    frame = pd.DataFrame(
        {
            "TS": times,
            "Open": [10.0, 10.5, 11.0],
            "High": [11.0, 11.5, 12.0],
            "Low": [9.0, 10.0, 10.5],
            "Close": [10.5, 11.0, 11.5],
            "Volume": [100, 200, 300],
        }
    )
    frame.to_parquet(tmp_path / "bars.parquet")
    bars = read_bar_file(tmp_path / "bars.parquet")
    shift = pd.Timedelta(hours=5) if aware else pd.Timedelta(0)
    assert bars.index[0] == pd.Timestamp("2021-01-04", tz="UTC") + shift
    assert bars["volume"].tolist() == [100.0, 200.0, 300.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open,high,low,close\n1,2,0.5,1.5\n", "no time column"),
        ("date,time,open,high,low,close\n2021-01-04,10:00,1,2,0.5,1.5\n", "several time columns (date, time)"),
        ("date,open,high,close\n2021-01-04,1,2,1.5\n", "missing column(s) low"),
        ("date,Close,close,open,high,low\n2021-01-04,1,1,1,2,0.5\n", "have the same name"),
        (HEADER + "2021-01-04,1,2,0.5,1.5,10\n04/01/2021,1,2,0.5,1.5,10\n", "line 3: 'date' value '04/01/2021'"),
        (HEADER + "2021-01-04,1,2,0.5,1.5,10\n,1,2,0.5,1.5,10\n", "line 3: empty 'date'"),
        (HEADER + "2021-01-04,1,2,0.5,abc,10\n", "line 2: close 'abc' is not a finite number"),
        (HEADER + "2021-01-04,1,2,0.5,inf,10\n", "line 2: close 'inf' is not a finite number"),
        (HEADER + "2021-01-04,1,2,0.5,1.5,NaN\n", "line 2: volume 'NaN' is not a finite number"),
        (HEADER + "2021-01-04,1,2,0.5,,10\n", "line 2: close '' is empty"),
        (HEADER + ROWS[0] + "\n" + ROWS[0] + "\n", "line 3: duplicate timestamp 2021-01-04"),
        (HEADER + ROWS[1] + "\n" + ROWS[0] + "\n", "line 3: 2021-01-04 comes before the previous row's 2021-01-05"),
        (HEADER, "has a header but no rows"),
        ("", "is empty"),
    ],
    ids=lambda v: v[:24] if isinstance(v, str) else None,
)
def test_read_bar_file_when_the_file_is_bad_raises_one_line_naming_file_and_place(tmp_path, text, expected):
    path = _csv(tmp_path, text)
    with pytest.raises(SourceError) as err:
        read_bar_file(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"file: {path}: ")
    assert expected in message


def test_read_bar_file_when_missing_or_of_an_unknown_type_names_the_file(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.csv: not found"):
        read_bar_file(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match=r"bars\.xlsx: unsupported file type"):
        read_bar_file(_csv(tmp_path, "x", "bars.xlsx"))
    with pytest.raises(SourceError, match=r"bad\.parquet: cannot be read as PARQUET"):
        read_bar_file(_csv(tmp_path, "not parquet", "bad.parquet"))


def test_load_when_data_path_is_relative_resolves_it_against_the_hypothesis_folder(tmp_path):
    (tmp_path / "data").mkdir()
    _csv(tmp_path / "data", HEADER + "\n".join(ROWS) + "\n")
    (tmp_path / "hyp").mkdir()
    config = load_experiment(_hypothesis(tmp_path / "hyp", "../data/bars.csv"))
    assert config.data.path == str(tmp_path / "data" / "bars.csv")
    absolute = load_experiment(_hypothesis(tmp_path, str(tmp_path / "data" / "bars.csv")))
    assert absolute.data.path == str(tmp_path / "data" / "bars.csv")


def test_load_when_a_base_file_declares_the_path_resolves_it_against_the_base_files_folder(tmp_path):
    (tmp_path / "bases").mkdir()
    _csv(tmp_path / "bases", HEADER + "\n".join(ROWS) + "\n")
    (tmp_path / "bases" / "base.yaml").write_text(
        "data: {source: file, path: bars.csv, symbol: X, timeframe: 1d, start: 2021-01-01, end: 2021-01-31}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: bases/base.yaml\nname: t\nhypothesis: h\n")
    assert load_experiment(child).data.path == str(tmp_path / "bases" / "bars.csv")


def test_load_when_file_source_has_no_path_or_another_source_has_one_is_one_line(tmp_path):
    missing = tmp_path / "m.yaml"
    missing.write_text("name: t\nhypothesis: h\ndata: {source: file, symbol: X, start: 2021-01-01, end: 2021-02-01}\n")
    with pytest.raises(ConfigError, match=r"data: .*source: file needs path"):
        load_experiment(missing)
    stray = tmp_path / "s.yaml"
    stray.write_text(
        "name: t\nhypothesis: h\ndata: {source: sample, path: x.csv, symbol: X, start: 2021-01-01, end: 2021-02-01}\n"
    )
    with pytest.raises(ConfigError, match=r"path: is only read by source: file"):
        load_experiment(stray)


def test_load_when_a_file_source_is_expanded_over_symbols_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: t\nhypothesis: h\nsymbols: [A, B]\n"
        "data: {source: file, path: x.csv, symbol: X, start: 2021-01-01, end: 2021-02-01}\n"
    )
    with pytest.raises(ConfigError, match=r"symbols: a file source holds one series"):
        load_experiments(path)


def test_check_when_the_data_file_is_bad_names_the_field_file_and_row(tmp_path):
    _csv(tmp_path, HEADER + ROWS[0] + "\n2021-01-05,1,2,0.5,oops,1\n")
    hypothesis = _hypothesis(tmp_path, "bars.csv")
    errors = semantic_errors(load_experiment(hypothesis), hypothesis)
    assert len(errors) == 1
    assert errors[0].startswith(f"{hypothesis}: data.path: {tmp_path / 'bars.csv'}: line 3: close 'oops'")


def test_ensure_bars_when_the_file_changes_makes_the_store_equal_the_file(tmp_path, db_url):
    store = BarStore(db_url)
    symbol = f"FILE{np.random.default_rng().integers(1e9)}"
    path = _csv(tmp_path, HEADER + "\n".join(ROWS) + "\n")
    config = load_experiment(_hypothesis(tmp_path, "bars.csv", symbol))
    first = ensure_bars(config.data, store=store)
    assert first.inserted == 3
    assert store.load(symbol, "1d", sources=["file"])["close"].tolist() == [10.5, 11.0, 11.5]
    path.write_text(HEADER + ROWS[0] + "\n2021-01-05,10.5,11.5,10,11.25,200\n")  # one bar changed, one gone
    second = ensure_bars(config.data, store=store)
    assert (second.inserted, second.updated, second.removed) == (0, 1, 1)
    assert store.load(symbol, "1d", sources=["file"])["close"].tolist() == [10.5, 11.25]


def test_ensure_bars_when_the_file_is_bad_stores_nothing(tmp_path, db_url):
    store = BarStore(db_url)
    symbol = f"FILE{np.random.default_rng().integers(1e9)}"
    _csv(tmp_path, HEADER + "\n".join(ROWS) + "\n2021-01-07,1,2,0.5,-inf,1\n")
    config = load_experiment(_hypothesis(tmp_path, "bars.csv", symbol))
    with pytest.raises(SourceError, match=r"line 5: close '-inf'"):
        ensure_bars(config.data, store=store)
    assert store.load(symbol, "1d").empty


def test_get_source_when_file_has_no_path_refuses_to_fetch():
    source = get_source("file")
    assert source.asset_class == "equity"
    with pytest.raises(SourceError, match="no path given"):
        source.fetch("X", "1d", pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-02-01", tz="UTC"))
