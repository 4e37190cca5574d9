"""Paper trading end to end on the embedded default: replay parity, --once idempotency, risk denials in
`quantgate orders`, a kill between ledger write and submit, and a demote followed by on_no_model.

One model is trained and promoted per module (``promoted`` fixture); tests run in file order and the last
one demotes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.execution.replay import replay
from pipeline.execution.trading_file import load_trading_file
from quantgate.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
AS_OF = "2012-06-05T00:00:00"  # the daily bar of 2012-06-04 has just closed
EXE = str(Path(sys.executable).with_name("quantgate"))


def _cli(*args: str) -> dict | list:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_replay_when_backtest_fill_model_matches_the_backtest_on_every_bar(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-parity")
    report = replay(load_trading_file(path), dt.date(2011, 1, 1), dt.date(2012, 6, 30))
    assert report.bars >= 370  # more than a year of daily bars
    assert report.model_version == promoted.version
    assert report.orders > 20  # volatility-target sizing rebalances: real trading, not one buy
    assert report.positions_match, report.differences[:5]
    assert report.max_return_diff <= 1e-9, report.differences[:5]
    assert report.differences == []
    print(f"\nreplay timing: {report.timing()} over {report.bars} bars, {report.orders} orders")


def test_trade_replay_json_prints_the_parity_report(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-replay-cli")
    out = _cli("trade", str(path), "--replay", "2012-01-01", "2012-03-31")
    assert out["parity"]["positions_match"] is True and out["parity"]["bars"] >= 60
    assert out["parity"]["max_return_diff"] <= 1e-9
    assert out["model_version"] == promoted.version and out["orders"] > 0


def test_replay_when_next_open_fill_model_keeps_decisions_and_reports_the_cost(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-next-open", fill_model="next_open")
    report = replay(load_trading_file(path), dt.date(2012, 1, 1), dt.date(2012, 3, 31))
    assert report.positions_match  # the decisions do not depend on how orders fill
    assert report.max_return_diff > 1e-9 and report.differences  # fills at the next open: listed bar by bar
    assert set(report.paper_metrics) == {"total_return", "sharpe", "max_drawdown"}
    assert report.paper_metrics["total_return"] != report.backtest_metrics["total_return"]


def test_trade_once_when_run_twice_for_the_same_bar_sends_no_second_order(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-once")
    first = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    second = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    assert first["bar"].startswith("2012-06-04") and first["model_version"] == promoted.version
    assert [o["status"] for o in first["orders"]] == ["FILLED"]
    assert [o["client_order_id"] for o in second["orders"]] == [o["client_order_id"] for o in first["orders"]]
    orders = [o for o in _cli("orders", "--strategy", "aapl-once")]
    assert len(orders) == 1 and orders[0]["model_version"] == promoted.version
    (account,) = _cli("positions", str(path))
    assert account["positions"]["AAPL"] == pytest.approx(first["orders"][0]["quantity"])


@pytest.mark.parametrize(
    ("name", "risk", "as_of", "code"),
    [
        ("deny-notional", {"max_notional_per_order": 100.0}, AS_OF, "NOTIONAL_EXCEEDS_MAX_PER_ORDER"),
        ("deny-position", {"max_position_notional": 100.0}, AS_OF, "POSITION_EXCEEDS_MAX_NOTIONAL"),
        ("deny-exposure", {"max_gross_exposure": 0.01}, AS_OF, "GROSS_EXPOSURE_EXCEEDS_MAX"),
        ("deny-minqty", {"min_quantity": 1e9}, AS_OF, "QUANTITY_BELOW_MINIMUM"),
        ("deny-stale", {"stale_after_hours": 1.0}, "2012-06-05T02:00:00", "STALE_BAR"),
    ],
)
def test_trade_once_when_a_risk_rule_denies_orders_shows_its_code(promoted, tmp_path, name, risk, as_of, code):
    path = promoted.trading_file(tmp_path, name, risk=risk)
    out = _cli("trade", str(path), "--once", "--as-of", as_of)
    assert [o["status"] for o in out["orders"]] == ["DENIED"]
    (row,) = [o for o in _cli("orders", "--strategy", name)]
    assert row["status"] == "DENIED" and row["reason"].startswith(code + ":")
    assert _cli("positions", str(path))[0]["positions"] == {}


def test_trade_once_when_halted_denies_with_trading_halted_until_resumed(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-halt")
    assert runner.invoke(app, ["halt", str(path), "--reason", "earnings"]).exit_code == 0
    out = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    assert out["orders"][0]["status"] == "DENIED" and out["orders"][0]["reason"].startswith("TRADING_HALTED:")
    assert runner.invoke(app, ["resume", str(path)]).exit_code == 0
    later = _cli("trade", str(path), "--once", "--as-of", "2012-06-06T00:00:00")
    assert [o["status"] for o in later["orders"]] == ["FILLED"]


def test_trade_once_when_order_type_limit_fills_only_at_or_inside_the_limit(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-limit", order_type="limit", limit_offset_bps=20.0)
    for day in pd.bdate_range("2012-06-05", "2012-06-22"):  # each cycle after a daily bar closed
        _cli("trade", str(path), "--once", "--as-of", day.isoformat())
    rows = _cli("orders", "--strategy", "aapl-limit")
    sent = [r for r in rows if r["status"] != "DENIED"]
    assert sent and all(r["limit_price"] is not None for r in sent)
    filled = [r for r in sent if r["status"] == "FILLED"]
    cancelled = [r for r in sent if r["reason"] == "VENUE_CANCELED"]
    assert filled and cancelled  # the market reached some limits and not others
    for r in filled:  # never worse than the limit (zero costs: the fill price is the market's)
        assert (r["avg_price"] <= r["limit_price"]) if r["side"] == "BUY" else (r["avg_price"] >= r["limit_price"])
    assert sum(1 for r in sent if r["status"] == "ACCEPTED") <= 1  # one working order at most: the last bar's
    assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0  # ledger and paper account agree
    print(f"\nlimit orders: {len(sent)} sent, {len(filled)} filled, {len(cancelled)} cancelled after one bar")


def test_trade_once_when_killed_between_ledger_write_and_submit_ends_with_one_order(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-kill")
    marker = tmp_path / "paused"
    env = {
        **os.environ,
        "QUANTGATE_HOME": str(promoted.home),
        "QUANTGATE_TEST_PAUSE_AT": "trade_before_submit",
        "QUANTGATE_TEST_PAUSE_MARKER": str(marker),
    }
    proc = subprocess.Popen(
        [EXE, "trade", str(path), "--once", "--as-of", AS_OF],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    reached = marker.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert reached, "the cycle never reached the submit"
    (written,) = _cli("orders", "--strategy", "aapl-kill")
    assert written["status"] == "INITIALIZED"  # in the ledger, never sent
    assert _cli("positions", str(path))[0]["positions"] == {}
    again = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    assert [o["status"] for o in again["orders"]] == ["FILLED"]
    assert len(_cli("orders", "--strategy", "aapl-kill")) == 1
    (account,) = _cli("positions", str(path))
    assert account["positions"]["AAPL"] == pytest.approx(written["quantity"])
    assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0


def test_trade_flow_when_run_twice_trades_the_bar_once_through_prefect_tasks(promoted, tmp_path):
    from flows.trade import trade_flow

    path = promoted.trading_file(tmp_path, "aapl-flow")
    first = trade_flow(str(path), as_of=AS_OF)
    second = trade_flow(str(path), as_of=AS_OF)
    assert [o.status.value for o in first.orders] == ["FILLED"] and first.model_version == promoted.version
    assert [o.client_order_id for o in second.orders] == [o.client_order_id for o in first.orders]
    assert len(_cli("orders", "--strategy", "aapl-flow")) == 1


def test_trade_once_when_a_new_version_is_promoted_uses_it_from_the_next_bar(promoted, tmp_path):
    from pipeline.registry import get_version, promote, register_model
    from pipeline.tracking import configure_mlflow

    path = promoted.trading_file(tmp_path, "aapl-swap")
    before = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    configure_mlflow()
    run_id = get_version(promoted.model, promoted.version).run_id
    new = register_model(run_id, promoted.model, gate_passed=True)
    promote(promoted.model, new.version, reason="swap test")
    after = _cli("trade", str(path), "--once", "--as-of", "2012-06-08T00:00:00")
    assert before["model_version"] == promoted.version and after["model_version"] == str(new.version)
    versions = {o["model_version"] for o in _cli("orders", "--strategy", "aapl-swap")}
    assert versions == {promoted.version, str(new.version)}


def test_trade_once_after_demote_flattens_per_on_no_model(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-demote")
    bought = _cli("trade", str(path), "--once", "--as-of", AS_OF)
    assert bought["orders"][0]["side"] == "BUY"
    assert runner.invoke(app, ["demote", promoted.model, "--reason", "test"]).exit_code == 0
    flat = _cli("trade", str(path), "--once", "--as-of", "2012-06-06T00:00:00")
    assert flat["model_version"] == "none"
    assert [(o["side"], o["status"], o["model_version"]) for o in flat["orders"]] == [("SELL", "FILLED", "none")]
    assert _cli("positions", str(path))[0]["positions"] == {}
    from mlflow import MlflowClient

    from pipeline.execution.tracking import DAY_TAG

    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("trading/aapl-demote").experiment_id])
    day = {r.data.tags[DAY_TAG]: r for r in runs}["2012-06-05"]  # the flattening cycle is a step of its day
    assert day.data.tags["model_version"] == "none" and day.data.metrics["orders"] == 1.0
