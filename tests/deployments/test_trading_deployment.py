"""The trading deployments: one per trading file on `quantgate-trading`, a cron matched to the bar, one run
at a time; and a deployed trading cycle under a real process worker, the way a user runs it (a real
Prefect server, `deployments/setup.sh`, a model promoted with `quantgate run`, `prefect deployment run`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.execution.trading_file import load_trading_file
from tests.conftest import REPO
from tests.deployments.conftest import BIN, PrefectStack, Stores, _stop, start_worker, worker_stores
from tests.deployments.test_deployed_runs import trigger
from tests.flows.conftest import experiment

DEPLOYMENTS = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
TRADING_FILES = sorted((REPO / "deployments" / "trading").glob("*.yaml"))
AS_OF = "2012-06-05T00:00:00"  # the daily bar of 2012-06-04 has just closed


def _trading_deployments() -> dict[str, dict]:
    return {d["parameters"]["trading_path"]: d for d in DEPLOYMENTS if d["entrypoint"] == "flows/trade.py:trade_flow"}


@pytest.mark.parametrize("path", TRADING_FILES, ids=lambda p: p.name)
def test_trading_file_when_shipped_has_one_deployment_on_the_trading_pool(path: Path) -> None:
    deployment = _trading_deployments()[str(path.relative_to(REPO))]
    trading = load_trading_file(path)
    assert deployment["name"] == f"trading-{trading.name}"
    assert deployment["work_pool"]["name"] == "quantgate-trading"
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    (schedule,) = deployment["schedules"]
    minute, hour, *_ = schedule["cron"].split()
    if "btc" in trading.name:  # hourly crypto: minute 1 of every hour
        assert (minute, hour) == ("1", "*")
    else:  # daily equities: after the daily bar has closed (00:00 UTC of the next day)
        assert (minute, hour) == ("5", "0") and schedule["cron"].endswith("2-6")
    assert schedule["timezone"] == "UTC"


def test_trading_deployments_when_counted_match_the_trading_files() -> None:
    assert sorted(_trading_deployments()) == [str(p.relative_to(REPO)) for p in TRADING_FILES]


@pytest.fixture(scope="module")
def trading_worker(
    deployed: PrefectStack, pg_url: str, pg_mlflow_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stores, dict[str, str], Path]]:
    """`quantgate db init`, a model promoted with `quantgate run`, then a process worker on quantgate-trading."""
    where = tmp_path_factory.mktemp("trading-worker")
    stores, env = worker_stores(deployed, pg_url, pg_mlflow_url, where)
    config = where / "deployed-trade.yaml"
    raw = experiment("deployed-trade", costs={"fee_bps": 0.0, "slippage_bps": 0.0})
    raw["gate"].update(bootstrap_reps=100, leakage_cuts=2)
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    run = subprocess.run(
        [str(BIN / "quantgate"), "run", str(config)], cwd=where, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    process = start_worker(env, where, "quantgate-trading", 1, deployed.logs / "trading-worker.log")
    try:
        yield stores, env, where
    finally:
        _stop(process)


def _cli(env: dict[str, str], where: Path, *args: str) -> list | dict:
    result = subprocess.run(
        [str(BIN / "quantgate"), *args, "--json"], cwd=where, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.postgres
def test_trading_deployment_when_run_by_a_worker_trades_the_bar_once_at_the_paper_broker(
    trading_worker: tuple[Stores, dict[str, str], Path], deployed: PrefectStack
) -> None:
    _, env, where = trading_worker
    trading = where / "deployed-paper.yaml"
    raw = {"name": "deployed-paper", "model": "deployed-trade", "capital": 100_000.0, "start": "2011-01-03"}
    trading.write_text(yaml.safe_dump(raw, sort_keys=False))
    with deployed.api() as api:
        deployment = api.get("/deployments/name/trade/trading-goog-paper").raise_for_status().json()
    assert deployment["work_pool_name"] == "quantgate-trading"
    assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert deployment["global_concurrency_limit"]["limit"] == 1

    parameters = {"trading_path": str(trading), "as_of": AS_OF}
    for attempt in ("first", "rerun"):  # the rerun of the same bar must send nothing
        run = deployed.wait_for_run(trigger(deployed, "trade/trading-goog-paper", parameters))
        assert run["state"]["type"] == "COMPLETED", f"{attempt}: {run['state'].get('message')}"

    (order,) = _cli(env, where, "orders", "--strategy", "deployed-paper")
    assert order["status"] == "FILLED" and order["bar"].startswith("2012-06-04")
    assert order["side"] == "BUY" and order["model_version"] == "1"
    (account,) = _cli(env, where, "positions", str(trading))
    assert account["positions"] == {"AAPL": pytest.approx(order["quantity"])}
    assert account["cash"] == pytest.approx(100_000.0 - order["quantity"] * order["avg_price"])
    with deployed.api() as api:
        artifact = api.get("/artifacts/deployed-paper-orders/latest").raise_for_status().json()
    assert artifact["type"] == "table" and order["client_order_id"] in json.dumps(artifact["data"])
