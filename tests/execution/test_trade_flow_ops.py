"""Operating the trading flow: halt and failure notifications through a Prefect block (a local webhook
receiver on 127.0.0.1), per-cycle table artifacts, and one MLflow run per (strategy, trading day).

One model is trained and promoted per module (``promoted`` fixture, real Prefect harness, real MLflow).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from quantgate.cli import app
from tests.fakes.server import POLL_INTERVAL_S

pytestmark = pytest.mark.slow
AS_OF = "2012-06-05T00:00:00"  # the daily bar of 2012-06-04 has just closed
BLOCK = "custom-webhook/trading-alerts"


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        received = self.messages = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(POLL_INTERVAL_S,), daemon=True).start()

    def texts(self) -> list[str]:
        return [f"{m['subject']} | {m['text']}" for m in self.messages]


@pytest.fixture(scope="module")
def receiver(prefect_harness: None) -> Iterator[Receiver]:
    """The receiver, saved as the Prefect notification block the trading files name."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    hook = Receiver()
    block = CustomWebhookNotificationBlock(
        name="quantgate", url=hook.url, json_data={"subject": "{{subject}}", "text": "{{body}}"}, timeout=10
    )
    block.save(BLOCK.split("/")[1], overwrite=True)
    yield hook
    hook.server.shutdown()


def _artifacts(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_trade_flow_when_the_broker_disagrees_halts_and_notifies_the_coded_reason(promoted, receiver, tmp_path):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from flows.trade import trade_flow
    from pipeline.errors import ExecutionError
    from pipeline.store import ensure_schema
    from pipeline.store.models import PaperPosition

    path = promoted.trading_file(tmp_path, "aapl-mismatch", notify={"block": BLOCK})
    first = trade_flow(str(path), as_of=AS_OF)
    assert [o.status.value for o in first.orders] == ["FILLED"]
    assert receiver.texts() == []  # a normal cycle sends nothing
    with Session(ensure_schema()) as session, session.begin():  # the venue's book drifts from the ledger
        session.execute(
            update(PaperPosition)
            .where(PaperPosition.account == "aapl-mismatch")
            .values(quantity=PaperPosition.quantity + 7)
        )
    with pytest.raises(ExecutionError, match="POSITION_MISMATCH"):
        trade_flow(str(path), as_of="2012-06-06T00:00:00")
    (message,) = [t for t in receiver.texts() if "aapl-mismatch" in t]
    assert message.startswith("quantgate aapl-mismatch: HALTED |")
    assert "POSITION_MISMATCH: ledger " in message and " AAPL, venue " in message
    state = CliRunner().invoke(app, ["orders", "--strategy", "aapl-mismatch", "--json"])
    assert len(json.loads(state.stdout)) == 1  # nothing was sent after the mismatch


def test_trade_flow_when_a_cycle_fails_notifies_with_its_error(promoted, receiver, tmp_path):
    from flows.trade import trade_flow

    path = promoted.trading_file(tmp_path, "zzzz-fails", symbols=["ZZZZ"], notify={"block": BLOCK})
    with pytest.raises(Exception, match="ZZZZ"):
        trade_flow(str(path), as_of=AS_OF)
    (message,) = [t for t in receiver.texts() if "zzzz-fails" in t]
    assert message.startswith("quantgate zzzz-fails: cycle failed |") and "ZZZZ" in message


def test_halt_command_when_the_file_names_a_block_announces_the_manual_halt(promoted, receiver, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-manual", notify={"block": BLOCK})
    result = CliRunner().invoke(app, ["halt", str(path), "--reason", "earnings call"])
    assert result.exit_code == 0, result.output
    (message,) = [t for t in receiver.texts() if "aapl-manual" in t]
    assert message == "quantgate aapl-manual: HALTED | aapl-manual HALTED: MANUAL_HALTED: earnings call"


def test_halt_command_when_the_block_does_not_exist_says_so_in_one_line(promoted, tmp_path):
    path = promoted.trading_file(tmp_path, "aapl-noblock", notify={"block": "custom-webhook/nobody-saved-this"})
    result = CliRunner().invoke(app, ["halt", str(path), "--reason", "x"])
    assert result.exit_code != 0
    assert "notify.block custom-webhook/nobody-saved-this: cannot load it" in result.output
    assert "Traceback" not in result.output


def test_trade_flow_publishes_orders_and_positions_tables_per_cycle(promoted, tmp_path):
    from flows.trade import trade_flow

    path = promoted.trading_file(tmp_path, "aapl-artifacts")
    result = trade_flow(str(path), as_of=AS_OF)
    (order,) = result.orders
    (orders,) = _artifacts("aapl-artifacts-orders")
    (positions,) = _artifacts("aapl-artifacts-positions")
    assert orders.type == "table" and positions.type == "table"
    rows = json.loads(orders.data) if isinstance(orders.data, str) else orders.data
    assert [(r["client_order_id"], r["status"]) for r in rows] == [(order.client_order_id, "FILLED")]
    held = json.loads(positions.data) if isinstance(positions.data, str) else positions.data
    assert {r["symbol"]: r["quantity"] for r in held}["AAPL"] == pytest.approx(order.quantity)
    assert "CASH" in {r["symbol"] for r in held}


def test_trade_flow_logs_one_mlflow_run_per_trading_day_with_metrics_by_bar(promoted, tmp_path):
    from mlflow import MlflowClient

    from flows.trade import trade_flow
    from pipeline.execution.tracking import DAY_TAG

    path = promoted.trading_file(tmp_path, "aapl-days")
    trade_flow(str(path), as_of=AS_OF)
    trade_flow(str(path), as_of=AS_OF)  # a rerun of the same bar: the same day's run, no second run
    trade_flow(str(path), as_of="2012-06-06T00:00:00")
    client = MlflowClient()
    experiment = client.get_experiment_by_name("trading/aapl-days")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags[DAY_TAG] for r in runs) == ["2012-06-04", "2012-06-05"]
    day = next(r for r in runs if r.data.tags[DAY_TAG] == "2012-06-04")
    assert day.info.status == "FINISHED" and day.data.tags["model_version"] == promoted.version
    step = int(dt.datetime(2012, 6, 4, tzinfo=dt.UTC).timestamp() * 1000)
    orders = client.get_metric_history(day.info.run_id, "orders")
    assert [(m.step, m.value) for m in orders] == [(step, 1.0), (step, 1.0)]  # the rerun: the same one order
    (exposure, *_) = client.get_metric_history(day.info.run_id, "gross_exposure")
    assert 0.0 < exposure.value <= 1.0 + 1e-9
    assert {"equity", "pnl", "net_exposure", "orders_denied"} <= set(day.data.metrics)


def test_day_run_when_cycles_race_for_a_new_day_creates_one_run(promoted):
    from mlflow import MlflowClient

    from pipeline.execution import tracking
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    day = dt.date(2012, 7, 2)
    barrier = threading.Barrier(4)
    found: list[str] = []

    def cycle() -> None:
        barrier.wait(timeout=60)
        found.append(tracking.day_run("aapl-race", day))

    threads = [threading.Thread(target=cycle) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(found) == 4 and len(set(found)) == 1
    client = MlflowClient()
    experiment = client.get_experiment_by_name("trading/aapl-race")
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_trade_once_command_when_run_is_a_step_of_its_trading_day_run(promoted, tmp_path):
    from mlflow import MlflowClient

    from pipeline.execution.tracking import DAY_TAG

    path = promoted.trading_file(tmp_path, "aapl-cli-day")
    result = CliRunner().invoke(app, ["trade", str(path), "--once", "--as-of", AS_OF, "--json"])
    assert result.exit_code == 0, result.output
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("trading/aapl-cli-day").experiment_id])
    assert run.data.tags[DAY_TAG] == "2012-06-04" and run.data.metrics["orders"] == 1.0


def test_trade_flow_without_a_production_version_still_publishes_and_logs_its_day(promoted, tmp_path):
    """Runs last in this module: it demotes the module's model (on_no_model: flatten)."""
    from mlflow import MlflowClient

    from flows.trade import trade_flow
    from pipeline.execution.tracking import DAY_TAG

    path = promoted.trading_file(tmp_path, "aapl-no-model")
    (bought,) = trade_flow(str(path), as_of=AS_OF).orders
    assert CliRunner().invoke(app, ["demote", promoted.model, "--reason", "test"]).exit_code == 0
    flat = trade_flow(str(path), as_of="2012-06-06T00:00:00")
    (sold,) = flat.orders
    assert (flat.model_version, sold.side.value, sold.status.value) == ("none", "SELL", "FILLED")
    orders = max(_artifacts("aapl-no-model-orders"), key=lambda a: a.created)  # one version per cycle
    rows = json.loads(orders.data) if isinstance(orders.data, str) else orders.data
    assert [(r["client_order_id"], r["model_version"]) for r in rows] == [(sold.client_order_id, "none")]
    idle = trade_flow(str(path), as_of="2012-06-07T00:00:00")  # nothing held, no model: no bar traded
    assert idle.bar_ts is None and idle.orders == []
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("trading/aapl-no-model").experiment_id])
    days = {r.data.tags[DAY_TAG]: r for r in runs}
    assert sorted(days) == ["2012-06-04", "2012-06-05", "2012-06-07"]
    assert days["2012-06-05"].data.tags["model_version"] == "none"
    assert days["2012-06-05"].data.metrics["orders"] == 1.0 and days["2012-06-05"].data.metrics["gross_exposure"] == 0
    (step,) = client.get_metric_history(days["2012-06-07"].info.run_id, "orders")
    assert (step.step, step.value) == (int(dt.datetime(2012, 6, 7, tzinfo=dt.UTC).timestamp() * 1000), 0.0)
    assert bought.side.value == "BUY"
