"""A promoted model on the embedded default stores, shared by the module's trading tests.

The experiment flow (real Prefect, real MLflow on SQLite) trains and promotes one small model with a
relaxed gate: on the embedded sample data (AAPL daily), or, for crypto, on hourly BTCUSDT bars from a CSV
file (``source: file``; the embedded sample has no crypto bars, so the series is a seeded random walk,
:func:`tests.stubs.btc_hourly_bars`). Tests trade it through their own trading files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.flows.conftest import experiment
from tests.stubs import BTC_START, BTC_TRAIN_END, btc_hourly_bars


@dataclass(frozen=True)
class Promoted:
    home: Path
    model: str
    version: str

    def trading_file(self, folder: Path, name: str, **fields: object) -> Path:
        raw = {"name": name, "model": self.model, "capital": 100_000.0, "start": "2011-01-03", **fields}
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path


def _promote(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    costs: dict[str, float],
    bars: pd.DataFrame | None = None,
    **overrides: object,
) -> Iterator[Promoted]:
    """Train and promote ``name`` with ``costs`` (on ``bars`` written to a CSV file when given: the
    ``data`` override names the rest); QUANTGATE_HOME stays set until the generator closes."""
    from flows.experiment import experiment_flow

    home = tmp_path_factory.mktemp("trade-home")
    if bars is not None:
        csv = home / f"{name}.csv"
        bars.rename_axis("ts").reset_index().to_csv(csv, index=False)
        overrides["data"] = {**overrides.get("data", {}), "source": "file", "path": str(csv)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTGATE_HOME", str(home / "qg"))
        patch.delenv("QUANTGATE_DB_URL", raising=False)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        path = home / f"{name}.yaml"
        raw = experiment(
            name,
            costs=costs,
            sizing={"method": "volatility_target", "target_volatility": 0.15, "max_leverage": 1.0},
            **overrides,
        )
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        outcome = experiment_flow(str(path))
        assert outcome.model_version is not None, "the relaxed gate should promote the model"
        yield Promoted(home / "qg", name, str(outcome.model_version))
        from pipeline.store import dispose_all

        dispose_all()


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Promoted]:
    """Train and promote ``trade-aapl`` (zero costs) once per module."""
    yield from _promote(tmp_path_factory, "trade-aapl", {"fee_bps": 0.0, "slippage_bps": 0.0})


@pytest.fixture(scope="module")
def promoted_with_costs(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Promoted]:
    """Train and promote ``trade-aapl-costs`` (fee 1 bp, slippage 2 bps) once per module."""
    yield from _promote(tmp_path_factory, "trade-aapl-costs", {"fee_bps": 1.0, "slippage_bps": 2.0})


@pytest.fixture(scope="module")
def promoted_btc_hourly(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Promoted]:
    """Train and promote ``trade-btc-hourly`` (crypto, hourly BTCUSDT from a CSV file, zero costs) once per module."""
    data = {"symbol": "BTCUSDT", "timeframe": "1h", "asset_class": "crypto", "start": BTC_START, "end": BTC_TRAIN_END}
    yield from _promote(
        tmp_path_factory, "trade-btc-hourly", {"fee_bps": 0.0, "slippage_bps": 0.0}, btc_hourly_bars(), data=data
    )
