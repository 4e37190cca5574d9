"""`experiment_flow` end to end, under a real Prefect harness, with real MLflow on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from flows.experiment import experiment_flow
from pipeline.errors import DataQualityError
from pipeline.registry import load_production_model, promotion_history
from pipeline.store import BarStore
from pipeline.tracking import configure_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def assert_registered_and_promoted(outcome, model_name: str) -> None:
    assert outcome.gate_passed
    assert outcome.model_version is not None
    assert outcome.model_stage == "Production"
    client = MlflowClient()
    version = client.get_model_version(model_name, outcome.model_version)
    assert version.current_stage == "Production"
    assert client.get_model_version_by_alias(model_name, "production").version == version.version
    history = promotion_history(model_name)
    assert history[-1]["to_stage"] == "Production"
    assert str(history[-1]["version"]) == str(outcome.model_version)
    assert history[-1]["run_id"] == outcome.run_id
    booster = load_production_model(model_name)
    assert booster.num_features() > 0


def assert_run_holds_everything(run_id: str) -> None:
    client = MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["target.holding_period"] == "5"
    for metric in ("total_return", "sharpe", "buy_hold_return", "excess_return", "max_drawdown"):
        assert metric in run.data.metrics
    assert run.data.tags["gate.passed"] in {"true", "false"}
    assert len(run.data.tags["data.fingerprint"]) >= 16
    assert "git.commit" in run.data.tags
    paths = set()
    for folder in ("config", "data", "quality", "features", "gate", "plots"):
        paths |= {a.path for a in client.list_artifacts(run_id, folder)}
    for expected in (
        "config/experiment.yaml",
        "data/fingerprint.json",
        "quality/report.json",
        "features/metadata.json",
        "gate/report.json",
        "gate/report.md",
        "plots/equity_curve.png",
        "plots/feature_importance.png",
    ):
        assert expected in paths, f"{expected} missing from {sorted(paths)}"


def test_experiment_flow_on_sqlite_registers_promotes_and_records_everything(
    sqlite_stores: Path, write_experiment: Callable[..., Path]
) -> None:
    path = write_experiment("e2e-sqlite")
    outcome = experiment_flow(str(path))
    configure_mlflow()
    assert outcome.window.startswith("2006-01-03")
    assert_run_holds_everything(outcome.run_id)
    assert_registered_and_promoted(outcome, "e2e-sqlite")
    assert (sqlite_stores / "quantgate.db").exists() and (sqlite_stores / "mlflow.db").exists()


def test_experiment_flow_on_postgres_registers_and_promotes(
    postgres_stores: tuple[str, str], write_experiment: Callable[..., Path]
) -> None:
    path = write_experiment("e2e-postgres", data={"symbol": "IBM"})
    outcome = experiment_flow(str(path))
    configure_mlflow()
    assert mlflow.get_tracking_uri().startswith("postgresql")
    assert_run_holds_everything(outcome.run_id)
    assert_registered_and_promoted(outcome, "e2e-postgres")
    assert len(BarStore().load("IBM", "1d", "2006-01-01", "2012-12-31")) > 1700


def test_experiment_flow_when_run_twice_gives_identical_metrics(
    sqlite_stores: Path, write_experiment: Callable[..., Path]
) -> None:
    path = write_experiment("e2e-twice", registry={"promote": False})
    first = experiment_flow(str(path))
    second = experiment_flow(str(path))
    assert first.run_id != second.run_id
    assert first.data_fingerprint == second.data_fingerprint
    assert first.metrics == second.metrics
    # An identical rerun (same config, data and code) is not a new trial: the verdict does not change.
    assert second.n_trials == first.n_trials
    assert [r.value for r in first.rules] == [r.value for r in second.rules]
    # A different hypothesis on the same data family is one: it counts the first as a trial.
    variant = write_experiment("e2e-twice-variant", registry={"promote": False}, costs={"fee_bps": 3.0})
    third = experiment_flow(str(variant))
    assert third.n_trials == first.n_trials + 1 and "history of data family" in third.n_trials_source


def test_experiment_flow_when_a_plugin_peeks_at_the_future_fails_the_leakage_rule(
    sqlite_stores: Path, write_experiment: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "peeking_plugin.py").write_text(
        textwrap.dedent(
            """
            import pandas as pd
            from pipeline.features import feature_group

            @feature_group("peek", warmup=0)
            def peek(bars: pd.DataFrame) -> pd.DataFrame:
                return pd.DataFrame({"peek_next_return": bars["close"].pct_change().shift(-1)}, index=bars.index)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    groups = ["returns", "volatility", "trend", "peek"]
    leaky = experiment_flow(
        str(write_experiment("e2e-leaky", features={"groups": groups, "plugins": ["peeking_plugin"]}))
    )
    clean = experiment_flow(str(write_experiment("e2e-clean", features={"groups": groups[:-1]})))
    leak_rule = {r.name: r for r in leaky.rules}["leakage"]
    assert not leak_rule.passed
    assert not leaky.gate_passed and leaky.model_version is None
    assert {r.name: r for r in clean.rules}["leakage"].passed
    configure_mlflow()
    local = MlflowClient().download_artifacts(leaky.run_id, "gate/leakage.json", str(tmp_path))
    report = json.loads(Path(local).read_text())
    assert "peek_next_return" in report["leaking_features"]
    sys.modules.pop("peeking_plugin", None)


def test_experiment_flow_when_data_fails_quality_stops_and_registers_nothing(
    sqlite_stores: Path, write_experiment: Callable[..., Path]
) -> None:
    from tests.stubs import sample_bars

    bars = sample_bars("MSFT", "2006-01-01", "2012-12-31")
    bars.loc[pd.Timestamp("2010-06-01", tz="UTC"), "high"] = bars.loc[pd.Timestamp("2010-06-01", tz="UTC"), "low"] / 2
    BarStore().upsert(bars, source="sample", symbol="MSFT", timeframe="1d")
    path = write_experiment("e2e-bad-data", data={"symbol": "MSFT"})
    with pytest.raises(DataQualityError, match="MSFT 1d"):
        experiment_flow(str(path))
    configure_mlflow()
    assert MlflowClient().search_registered_models(filter_string="name = 'e2e-bad-data'") == []


def test_experiment_flow_when_walk_forward_retrains_per_fold_and_checks_consistency(
    sqlite_stores: Path, write_experiment: Callable[..., Path]
) -> None:
    path = write_experiment(
        "e2e-walk-forward",
        data={"start": "2004-01-01"},
        split={"method": "walk_forward", "folds": 3, "train_bars": 700, "test_bars": 250},
        registry={"promote": False},
    )
    outcome = experiment_flow(str(path))
    rules = {r.name: r for r in outcome.rules}
    assert "fold_consistency" in rules
    configure_mlflow()
    metrics = MlflowClient().get_run(outcome.run_id).data.metrics
    assert metrics["folds"] == 3
    per_fold = [metrics[f"fold{k}.excess_return"] for k in range(3)]
    assert rules["fold_consistency"].value == pytest.approx(sum(e > 0 for e in per_fold) / 3)
    # The pooled out-of-sample segment spans all three test windows.
    assert metrics["n_trades"] >= max(metrics[f"fold{k}.n_trades"] for k in range(3))
