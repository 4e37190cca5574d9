"""A sweep prepares each distinct dataset once; items wait for their own dataset's lock only."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml

from pipeline.quality.cache import cache_dir
from pipeline.store import BarStore
from pipeline.sweep import discover
from pipeline.sweep.prepare import distinct_datasets, load_prepared_bars, lock_datasets, prepare_datasets
from tests.flows.conftest import experiment


def _folder(root: Path) -> Path:
    folder = root / "sweep"
    folder.mkdir()
    for symbol, h in (("AAPL", 1), ("AAPL", 5), ("IBM", 1)):
        raw = experiment(f"prep-{symbol.lower()}-{h}", data={"symbol": symbol}, target={"holding_period": h})
        (folder / f"{symbol.lower()}_{h}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    bad = experiment("prep-nosuch", data={"symbol": "NOSUCHSYMBOL"})
    (folder / "nosuch.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    return folder


def test_prepare_when_configs_share_data_ingests_and_validates_each_dataset_once(qg_home: Path, tmp_path: Path) -> None:
    plan = discover(_folder(tmp_path))
    assert [d.symbol for d in distinct_datasets(plan)] == ["AAPL", "IBM", "NOSUCHSYMBOL"]  # AAPL twice in the plan
    prepared = prepare_datasets(plan)
    assert prepared.datasets == 3 and prepared.ingested_bars > 1000
    assert len(prepared.errors) == 1 and prepared.errors[0].startswith("NOSUCHSYMBOL 1d: ")
    assert len(list(cache_dir().glob("*.json"))) == 2  # one passed quality report per good dataset
    assert {"AAPL", "IBM"} <= set(BarStore().summary()["symbol"])
    again = prepare_datasets(plan)
    assert again.ingested_bars == 0  # already stored: nothing ingested twice


def test_load_prepared_bars_when_dataset_is_being_prepared_waits_for_its_release(qg_home: Path, tmp_path: Path) -> None:
    plan = discover(_folder(tmp_path))
    aapl, ibm = distinct_datasets(plan)[:2]
    done: dict[str, float] = {}

    def read(data) -> None:
        load_prepared_bars(data)
        done[data.symbol] = time.monotonic()

    with lock_datasets(plan) as locks:
        readers = [threading.Thread(target=read, args=(d,)) for d in (aapl, ibm)]
        for reader in readers:
            reader.start()
        time.sleep(1.0)
        assert done == {}  # both wait: neither dataset is released yet
        released = time.monotonic()
        locks.release(ibm)
        readers[1].join(timeout=60)
        assert "IBM" in done and "AAPL" not in done  # only the released dataset's reader went on
    readers[0].join(timeout=60)  # the block's end released the rest
    assert done["AAPL"] >= released
