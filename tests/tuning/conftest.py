"""Fixtures for tuning tests: a config with a tuning block and a dataset with a learnable signal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import ExperimentConfig
from pipeline.split import Dataset
from tests.conftest import seed_mlflow
from tests.tuning.builders import signal_dataset, tuning_config


@pytest.fixture(scope="module")
def config() -> ExperimentConfig:
    """Six trials over max_depth and eta, Sharpe on validation, pruning on."""
    return tuning_config()


@pytest.fixture(scope="module")
def dataset(config: ExperimentConfig) -> Dataset:
    """Train / validation / test segments of 700 synthetic daily bars."""
    return signal_dataset(config)


@pytest.fixture(scope="module")
def tuning_home(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Path]:
    """One QUANTGATE_HOME (embedded SQLite stores) for a whole test module, its MLflow store copied from the
    empty template.

    Tests sharing it use their own study names.
    """
    home = seed_mlflow(tmp_path_factory.mktemp("tuning") / "qghome", mlflow_template)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTGATE_HOME", str(home))
        patch.delenv("QUANTGATE_DB_URL", raising=False)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield home


@pytest.fixture(autouse=True)
def _tracking_configured(request: pytest.FixtureRequest) -> None:
    """Point MLflow at the module's store before each test that uses it, as a flow or the CLI would."""
    if "tuning_home" in request.fixturenames:
        request.getfixturevalue("tuning_home")
        from pipeline.tracking import configure_mlflow

        configure_mlflow()
