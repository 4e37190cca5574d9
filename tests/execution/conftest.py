"""A promoted model on the embedded default stores, shared by the module's trading tests.

The experiment flow (real Prefect, real MLflow on SQLite) trains and promotes one small model on the
embedded sample data with a relaxed gate; tests trade it through their own trading files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.flows.conftest import experiment


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


def _promote(tmp_path_factory: pytest.TempPathFactory, name: str, costs: dict[str, float]) -> Iterator[Promoted]:
    """Train and promote ``name`` with ``costs``; QUANTGATE_HOME stays set until the generator closes."""
    from flows.experiment import experiment_flow

    home = tmp_path_factory.mktemp("trade-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTGATE_HOME", str(home / "qg"))
        patch.delenv("QUANTGATE_DB_URL", raising=False)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        path = home / f"{name}.yaml"
        raw = experiment(
            name,
            costs=costs,
            sizing={"method": "volatility_target", "target_volatility": 0.15, "max_leverage": 1.0},
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
