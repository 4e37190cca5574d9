"""Registry on a real MLflow (SQLite and PostgreSQL): register, gate-aware promote, demote, list, history."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from pipeline.errors import PromotionRefused, TrackingError
from pipeline.registry import (
    default_actor,
    demote,
    list_models,
    load_production_model,
    production_model_uri,
    promote,
    promotion_history,
    register_model,
)
from tests.registry.conftest import RegistryEnv, assert_one_production_with_ordered_history


def _register(env: RegistryEnv, name: str, gate_passed: bool = True):
    return register_model(env.run_id, name, env.model_uri, gate_passed=gate_passed, gate_tags={"sharpe": "1.2"})


def test_register_model_tags_version_with_gate_result(env: RegistryEnv) -> None:
    name = env.model_name()
    info = _register(env, name)
    assert (info.name, info.version, info.stage, info.aliases) == (name, "1", "None", ())
    assert info.run_id == env.run_id and info.gate_passed is True and info.in_sync
    tags = MlflowClient().get_model_version(name, "1").tags
    assert tags["gate.passed"] == "true" and tags["gate.sharpe"] == "1.2"
    by_name = register_model(env.run_id, name, "model", gate_passed=False)
    assert by_name.version == "2" and by_name.gate_passed is False


def test_promote_when_gate_passed_sets_stage_alias_and_history(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = promote(name, 1, reason="beats buy and hold", actor="alice@desk", db_url=env.db_url)
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]
    assert (info.stage, info.aliases, info.in_sync) == ("Production", ("production",), True)
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(name, "production").version) == "1"
    rows = promotion_history(name, db_url=env.db_url)
    assert len(rows) == 1
    row = rows[0]
    assert (row["version"], row["from_stage"], row["to_stage"], row["actor"]) == (
        "1",
        "None",
        "Production",
        "alice@desk",
    )
    assert (row["reason"], row["run_id"], row["gate_passed"], row["forced"]) == (
        "beats buy and hold",
        env.run_id,
        True,
        False,
    )
    assert row["at"].tzinfo is not None
    assert production_model_uri(name) == f"models:/{name}@production"
    booster = load_production_model(name)
    np.testing.assert_array_equal(booster.predict(xgb.DMatrix(env.X)), env.booster.predict(xgb.DMatrix(env.X)))
    again = promote(name, "1", reason="again", db_url=env.db_url)
    assert again.stage == "Production" and len(promotion_history(name, db_url=env.db_url)) == 1


def test_promote_when_second_version_archives_first_with_history(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    _register(env, name)
    promote(name, "1", reason="first", db_url=env.db_url)
    second = promote(name, "2", reason="better sharpe", db_url=env.db_url)
    assert second.stage == "Production" and second.aliases == ("production",)
    (summary,) = list_models(name)
    stages = {v.version: (v.stage, v.aliases) for v in summary.versions}
    assert stages == {"2": ("Production", ("production",)), "1": ("Archived", ())}
    assert summary.production_version == "2" and summary.in_sync
    moves = [(r["version"], r["from_stage"], r["to_stage"]) for r in promotion_history(name, db_url=env.db_url)]
    assert moves == [("1", "None", "Production"), ("1", "Production", "Archived"), ("2", "None", "Production")]
    archived = promotion_history(name, db_url=env.db_url)[1]
    assert "archived by promotion of version 2" in archived["reason"]


def test_promote_when_gate_failed_refused_unless_forced(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name, gate_passed=False)
    with pytest.raises(PromotionRefused, match=rf"{name} version 1: gate.passed is false"):
        promote(name, "1", reason="I like it", db_url=env.db_url)
    assert MlflowClient().get_model_version(name, "1").aliases == []
    assert promotion_history(name, db_url=env.db_url) == []

    info = promote(name, "1", reason="desk override for paper trading", force=True, db_url=env.db_url)
    assert info.stage == "Production" and info.is_production
    (row,) = promotion_history(name, db_url=env.db_url)
    assert row["forced"] is True and row["gate_passed"] is False
    assert row["reason"] == "desk override for paper trading"
    assert MlflowClient().get_model_version(name, "1").tags["gate.overridden"] == "true"


def test_promote_when_reason_blank_or_version_unknown_raises(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    with pytest.raises(PromotionRefused, match="reason is required"):
        promote(name, "1", reason="  ", db_url=env.db_url)
    with pytest.raises(TrackingError, match=rf"{name} version 7"):
        promote(name, "7", reason="nope", db_url=env.db_url)


def test_demote_archives_production_and_drops_alias(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    promote(name, "1", reason="go live", db_url=env.db_url)
    (demoted,) = demote(name, reason="drawdown breach", actor="risk@desk", db_url=env.db_url)
    assert (demoted.version, demoted.stage, demoted.aliases) == ("1", "Archived", ())
    last = promotion_history(name, db_url=env.db_url)[-1]
    assert (last["from_stage"], last["to_stage"], last["actor"], last["reason"]) == (
        "Production",
        "Archived",
        "risk@desk",
        "drawdown breach",
    )
    with pytest.raises(TrackingError, match="no version is in production"):
        demote(name, reason="again", db_url=env.db_url)
    with pytest.raises(TrackingError, match="no version has the alias 'production'"):
        load_production_model(name)


def test_list_models_when_version_moved_by_hand_shows_it(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    _register(env, name)
    client = MlflowClient()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(name, "1", "Production")  # as the MLflow UI does
    client.set_registered_model_alias(name, "production", "2")
    (summary,) = [m for m in list_models() if m.name == name]
    versions = {v.version: v for v in summary.versions}
    assert versions["1"].stage == "Production" and versions["1"].aliases == () and not versions["1"].in_sync
    assert versions["2"].stage == "None" and versions["2"].aliases == ("production",) and not versions["2"].in_sync
    assert summary.production_version == "2" and not summary.in_sync
    assert versions["1"].created is not None and versions["1"].run_id == env.run_id

    promote(name, "2", reason="bring stage and alias back in step", db_url=env.db_url)
    (summary,) = list_models(name)
    assert summary.in_sync and {v.version: v.stage for v in summary.versions} == {"2": "Production", "1": "Archived"}


def test_production_model_uri_when_stage_set_by_hand_without_alias_explains(env: RegistryEnv) -> None:
    name = env.model_name()
    _register(env, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        MlflowClient().transition_model_version_stage(name, "1", "Production")
    with pytest.raises(TrackingError, match="version 1 is in stage Production but the alias is not set"):
        production_model_uri(name)


def test_default_actor_names_user_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "carol")
    assert default_actor().startswith("carol@")


def test_promote_when_eight_run_concurrently_leaves_one_production_and_full_history(env: RegistryEnv) -> None:
    name = env.model_name()
    versions = [_register(env, name).version for _ in range(8)]
    start = threading.Barrier(len(versions))

    def go(version: str) -> str:
        start.wait()
        return promote(name, version, reason=f"race {version}", db_url=env.db_url).version

    with ThreadPoolExecutor(len(versions)) as pool:
        assert sorted(pool.map(go, versions), key=int) == versions
    assert_one_production_with_ordered_history(name, env.db_url, versions)


@pytest.mark.parametrize("status", ["RUNNING", "KILLED"])
def test_promote_when_the_versions_run_is_not_finished_refuses_even_forced(env: RegistryEnv, status: str) -> None:
    from pipeline.tracking import start_run

    name = env.model_name()
    run = start_run("registry-tests", run_name=f"unfinished-{status.lower()}")
    ref = run.log_xgboost_model(env.booster, env.X)
    if status != "RUNNING":
        run.end(status)
    register_model(run.run_id, name, ref.model_uri, gate_passed=True)
    with pytest.raises(PromotionRefused, match=rf"{name} version 1: its run {run.run_id} is {status}, not FINISHED"):
        promote(name, "1", reason="looks good", force=True, db_url=env.db_url)
    assert MlflowClient().get_model_version(name, "1").current_stage == "None"
    assert promotion_history(name, db_url=env.db_url) == []
    run.end("FINISHED")  # a RUNNING run ends now; a KILLED one stays KILLED
