"""Venue keys from environment variables or Prefect Secret blocks, and planted keys found nowhere we write.

The block test uses a real (temporary) Prefect API: the keys are saved as ``prefect.blocks.system.Secret``
blocks, the trading file names the blocks, and the Binance fake checks the key header and the HMAC
signature made with the secret, so a filled order proves the block values were used. With ``echo_keys``
every venue error repeats the key and secret; then logs, CLI output, the ledger, error messages, the
Prefect flow run (state message and API logs) and every file under QUANTGATE_HOME (MLflow store, error
log) are searched for them.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.errors import ExecutionError
from pipeline.execution.brokers import keys_for
from pipeline.execution.runner import open_session
from pipeline.execution.trading_file import load_trading_file
from quantgate.cli import app
from tests.cli.test_reconcile import _buy
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import random_walk_bars

KEY, SECRET = "planted-block-key-51f0aa", "planted-block-secret-c3d9e7"
runner = CliRunner()


def _file(folder: Path, credentials: dict | None) -> Path:
    raw = {
        "name": f"sec-{uuid.uuid4().hex[:6]}",
        "model": f"no-such-model-{uuid.uuid4().hex[:6]}",
        "broker": "binance",
        "symbols": ["BTCUSDT"],
        "lot_size": 0.0001,
        "on_no_model": "hold",
        "credentials": credentials,
    }
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"key_env": "A"}, "give key_env with secret_env"),
        ({"key_env": "A", "secret_env": "B", "key_block": "k", "secret_block": "s"}, "one source"),
        ({"key_block": "k"}, "key_block with secret_block"),
    ],
)
def test_credentials_name_exactly_one_source(tmp_path, credentials, message):
    with pytest.raises(ExecutionError, match=message) as caught:
        load_trading_file(_file(tmp_path, credentials))
    assert "credentials" in str(caught.value)


def test_keys_from_named_environment_variables_and_a_missing_one_is_named_not_shown(monkeypatch):
    from pipeline.execution.trading_file import Credentials

    monkeypatch.setenv("QG_SEC_K", KEY)
    monkeypatch.setenv("QG_SEC_S", SECRET)
    keys = keys_for("binance", Credentials(key_env="QG_SEC_K", secret_env="QG_SEC_S"), "X", "Y")
    assert (keys.key, keys.secret) == (KEY, SECRET) and KEY not in repr(keys) and SECRET not in repr(keys)
    monkeypatch.delenv("QG_SEC_S")
    with pytest.raises(ExecutionError, match="set QG_SEC_K and QG_SEC_S") as caught:
        keys_for("binance", Credentials(key_env="QG_SEC_K", secret_env="QG_SEC_S"), "X", "Y")
    assert KEY not in str(caught.value)


def _prefect_texts(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # send the batched logs before reading them back
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs()
    texts = [log.message for log in logs]
    texts.append(run.model_dump_json())
    texts.extend(t.model_dump_json() for t in tasks if t.flow_run_id == flow_run_id)
    return texts


@pytest.mark.slow
def test_keys_from_prefect_secret_blocks_trade_and_planted_keys_are_found_nowhere(
    prefect_harness, qg_home, tmp_path, monkeypatch, caplog, capfd
):
    from prefect.blocks.system import Secret

    from flows.trade import trade_flow

    suffix = uuid.uuid4().hex[:6]
    Secret(value=KEY).save(f"qg-venue-key-{suffix}", overwrite=True)
    Secret(value=SECRET).save(f"qg-venue-secret-{suffix}", overwrite=True)
    for var in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(var, raising=False)  # the blocks are the only source
    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    monkeypatch.setenv("QUANTGATE_BROKER_DEADLINE", "2")
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    try:
        venue.echo_keys = True
        path = _file(tmp_path, {"key_block": f"qg-venue-key-{suffix}", "secret_block": f"qg-venue-secret-{suffix}"})
        session = open_session(load_trading_file(path), timeframe="1d", fee_bps=0.0, slippage_bps=0.0)
        assert (session.broker.keys.key, session.broker.keys.secret) == (KEY, SECRET)
        _buy(session, "BTCUSDT", 1.0, random_walk_bars(40))  # the fake verified key and signature
        assert venue.balances["BTC"] == Decimal("1")

        shown = runner.invoke(app, ["reconcile", str(path), "--json"])  # the CLI reads the blocks too
        assert shown.exit_code == 0, shown.output
        seen.append(shown.output)

        venue.fault("429", "/api/v3/account", "GET", times=10)  # the venue's error repeats both keys
        with pytest.raises(ExecutionError) as caught:
            session.broker.positions()
        assert "***" in str(caught.value)  # the echo was there, and redacted
        seen.append(str(caught.value))
        failed = runner.invoke(app, ["reconcile", str(path)])
        assert failed.exit_code == 1 and "***" in failed.output
        seen.append(failed.output)

        state = trade_flow(str(path), return_state=True)  # no Production version: hold, after reading positions
        assert state.is_failed() and "***" in (state.message or "")
        prefect_texts = _prefect_texts(state.state_details.flow_run_id)
        assert any("***" in text for text in prefect_texts)  # the redacted error did reach Prefect
        seen.extend(prefect_texts)
        missing = _file(tmp_path, {"key_block": f"qg-no-such-block-{suffix}", "secret_block": "qg-nope"})
        with pytest.raises(ExecutionError, match=f"cannot read Prefect Secret block 'qg-no-such-block-{suffix}'"):
            open_session(load_trading_file(missing), timeframe="1d", fee_bps=0.0, slippage_bps=0.0)
    finally:
        venue.stop()
    seen.append(repr(session.ledger.orders(session.strategy)) + repr(session.ledger.events(strategy=session.strategy)))
    seen.append(caplog.text)
    out, err = capfd.readouterr()
    seen.extend([out, err])
    files = [p for p in Path(qg_home).rglob("*") if p.is_file()]
    assert files, "the embedded stores wrote nothing to search"
    for text in seen:
        assert KEY not in text and SECRET not in text
    for file in files:
        data = file.read_bytes()
        assert KEY.encode() not in data and SECRET.encode() not in data, file
