"""One real MLflow store (SQLite or PostgreSQL) per module with one logged model that tests register anew.

Logging a model costs about a second, so the module logs one run and each test registers its own
uniquely named model from it (several versions may share one logged model).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from tests.conftest import seed_mlflow


@dataclass(frozen=True)
class RegistryEnv:
    tracking_uri: str
    db_url: str
    run_id: str
    model_uri: str
    booster: object
    X: pd.DataFrame

    def model_name(self) -> str:
        return f"qg-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryEnv]:
    """MLflow tracking + registry and quantgate's database on one backend, with a logged model."""
    import mlflow

    from pipeline.tracking import configure_mlflow, resolve_tracking_uri, start_run
    from tests.tracking.builders import tiny_booster

    home = tmp_path_factory.mktemp("registry-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTGATE_HOME", str(home))
        patch.delenv("QUANTGATE_DB_URL", raising=False)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        if request.param == "sqlite":
            seed_mlflow(home, request.getfixturevalue("mlflow_template"))  # an empty store, schema already built
            uri, db_url = None, f"sqlite:///{home / 'quantgate.db'}"
        else:
            uri, db_url = request.getfixturevalue("pg_mlflow_url"), request.getfixturevalue("pg_url")
        configure_mlflow(uri)
        booster, X = tiny_booster()
        with start_run("registry-tests", run_name="model-source") as run:
            ref = run.log_xgboost_model(booster, X)
        yield RegistryEnv(resolve_tracking_uri(uri), db_url, run.run_id, ref.model_uri, booster, X)
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@pytest.fixture
def env(registry_env: RegistryEnv) -> RegistryEnv:
    """The module's registry environment, re-pointed at its store (other tests may have moved MLflow)."""
    from pipeline.tracking import configure_mlflow

    configure_mlflow(registry_env.tracking_uri)
    return registry_env


def assert_one_production_with_ordered_history(name: str, db_url: str, versions: list[str]) -> None:
    """After concurrent promotes of ``versions``: one version in Production holding the alias, and a history
    that replays in order (each promotion first archives the version promoted before it)."""
    from pipeline.registry import list_models, promotion_history

    (summary,) = list_models(name)
    production = [v.version for v in summary.versions if v.stage == "Production"]
    assert len(production) == 1, [(v.version, v.stage, v.aliases) for v in summary.versions]
    assert summary.production_version == production[0] and summary.in_sync
    rows = promotion_history(name, db_url=db_url)
    promoted = [r["version"] for r in rows if r["to_stage"] == "Production"]
    assert sorted(promoted, key=int) == sorted(versions, key=int)
    current = None
    for row in rows:
        if row["to_stage"] == "Archived":
            assert (row["version"], row["from_stage"]) == (current, "Production"), rows
            current = None
        else:
            assert current is None and row["from_stage"] == "None", rows
            current = row["version"]
    assert current == production[0]
    assert len(rows) == 2 * len(versions) - 1
