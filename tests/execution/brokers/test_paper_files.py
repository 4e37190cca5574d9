"""Acceptance: the shipped paper-mode trading files run their cycles against the local venue fakes through
the official clients, and the ledger's orders, fills and positions match the fakes' books exactly.

- ``deployments/trading/aapl_alpaca.yaml`` (equity, daily): ``quantgate trade --once`` for consecutive
  days with the module's promoted AAPL model, on the embedded sample bars, against the Alpaca fake.
- ``deployments/trading/btc_binance.yaml`` (crypto, hourly): the real cycle (:func:`run_cycle`) every hour
  over hourly BTCUSDT bars against the Binance fake. The embedded sample has no crypto-hourly model, so
  the same promoted model decides (its features are computed on the hourly bars).

Only the model name and the anchor (``start``) of the shipped files are replaced; broker, mode, credentials,
lot size and risk limits are the shipped ones.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.execution.model import OrderStatus, Side
from pipeline.execution.trading_file import load_trading_file
from quantgate.cli import app
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import random_walk_bars

TRADING = Path(__file__).parents[3] / "deployments" / "trading"
KEY, SECRET = "planted-paper-key-0b7e", "planted-paper-secret-91c4"
runner = CliRunner()


def _shipped(file: str, folder: Path, **update: object) -> Path:
    raw = yaml.safe_load((TRADING / file).read_text())
    raw.update(update)
    path = folder / file
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.slow
def test_aapl_alpaca_daily_cycles_leave_ledger_and_alpaca_books_identical(promoted, tmp_path, monkeypatch):
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_HOME", str(promoted.home))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
    path = _shipped("aapl_alpaca.yaml", tmp_path, model=promoted.model, start="2011-01-03", name="aapl-alpaca-acc")
    assert load_trading_file(path).broker == "alpaca"
    from pipeline.sources.sample import _adjusted

    closes = _adjusted("AAPL")["close"]
    venue.cash = 45_000.0  # orders stay inside the shipped max_notional_per_order (50 000)
    try:
        for day in pd.bdate_range("2012-06-05", "2012-06-22"):  # 14 cycles, each after a daily bar closed
            venue.prices["AAPL"] = float(closes[closes.index < day.tz_localize("UTC")].iloc[-1])  # fills at the close
            result = runner.invoke(app, ["trade", str(path), "--once", "--as-of", day.isoformat(), "--json"])
            assert result.exit_code == 0, result.output
        rows = json.loads(runner.invoke(app, ["orders", "--strategy", "aapl-alpaca-acc", "--json"]).stdout)
        sent = [r for r in rows if r["status"] not in ("DENIED",)]
        assert sent, "the cycles sent no order"
        books = {o["client_order_id"]: o for o in venue.orders}
        assert len(books) == len(venue.orders)  # no duplicate at the venue
        assert sorted(books) == sorted(r["client_order_id"] for r in sent)  # every sent order, and only those
        for row in sent:
            o = books[row["client_order_id"]]
            assert (row["side"], row["symbol"]) == (o["side"].upper(), o["symbol"])
            assert row["status"] == ("FILLED" if o["status"] == "filled" else row["status"])
            assert _close(row["quantity"], float(o["qty"])) and _close(row["avg_price"], float(o["filled_avg_price"]))
        from pipeline.execution.ledger import Ledger
        from pipeline.store import get_engine

        ledger = Ledger(get_engine())
        assert ledger.net_filled("aapl-alpaca-acc") == {s: q for s, q in venue.positions.items() if q}
        assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0
        print(f"\naapl_alpaca: 14 cycles, {len(sent)} orders at the venue, ledger = books, positions {venue.positions}")
    finally:
        venue.stop()


@pytest.mark.slow
def test_btc_binance_hourly_cycles_leave_ledger_and_binance_books_identical(promoted, tmp_path, monkeypatch):
    from pipeline.execution.cycle import run_cycle
    from pipeline.execution.production import pin_model, production_version
    from pipeline.execution.runner import open_session
    from pipeline.tracking import configure_mlflow

    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_HOME", str(promoted.home))
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    bars = random_walk_bars(400, start="2026-01-01", freq="1h", seed=11, price=100.0)
    path = _shipped("btc_binance.yaml", tmp_path, model=promoted.model, start="2026-01-10", name="btc-binance-acc")
    try:
        venue.balances["USDT"] = Decimal("4000")  # orders stay inside the shipped max_notional_per_order (5000)
        configure_mlflow()
        model = pin_model(promoted.model, *production_version(promoted.model))
        session = open_session(load_trading_file(path), timeframe="1h", fee_bps=0.0, slippage_bps=0.0)
        cycles = 0
        for end in range(300, 400, 4):  # 25 hourly cycles (every 4th hour, so positions drift and trade)
            window = bars.iloc[: end + 1]
            now = (window.index[-1] + pd.Timedelta(hours=1)).to_pydatetime()
            venue.prices["BTCUSDT"] = round(float(window["close"].iloc[-1]), 2)  # fills at the close (on the tick)
            run_cycle(session, now, {"BTCUSDT": window}, model, "1h", "crypto")
            cycles += 1
        ledger_orders = session.ledger.orders(session.strategy)
        local = [o for o in ledger_orders if o.status is OrderStatus.REJECTED and not o.broker_order_id]
        assert all(o.reason.split(":")[0] in ("NOTIONAL_BELOW_MINIMUM", "QUANTITY_BELOW_MINIMUM") for o in local)
        orders = [o for o in ledger_orders if o.status is not OrderStatus.DENIED and o not in local]
        assert orders, "the cycles sent no order"
        books = {o["clientOrderId"]: o for o in venue.orders}
        assert len(books) == len(venue.orders)
        assert sorted(books) == sorted(o.client_order_id for o in orders)
        for order in orders:
            o = books[order.client_order_id]
            trades = [t for t in venue.trades if t["orderId"] == o["orderId"]]
            assert order.side is Side(o["side"]) and order.status is OrderStatus.FILLED and o["status"] == "FILLED"
            assert _close(order.filled_quantity, float(o["executedQty"]))
            assert _close(order.avg_price, float(o["cummulativeQuoteQty"]) / float(o["executedQty"]))
            assert _close(order.fee, sum(float(t["commission"]) for t in trades))  # fees in USDT, by trade id
        held = float(venue.balances.get("BTC", Decimal(0)))
        assert _close(session.ledger.net_filled(session.strategy).get("BTCUSDT", 0.0), held)
        assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0
        print(
            f"\nbtc_binance: {cycles} cycles, {len(orders)} orders at the venue ({len(local)} refused locally by "
            f"exchangeInfo filters), ledger = books, BTC {held}"
        )
    finally:
        venue.stop()


def test_shipped_venue_files_name_their_keys_and_hold_none(tmp_path):
    for name in ("aapl_alpaca.yaml", "btc_binance.yaml"):
        trading = load_trading_file(TRADING / name)
        assert trading.mode == "paper" and trading.credentials is not None and trading.credentials.key_env
        text = (TRADING / name).read_text()
        assert "key_env" in text and "secret:" not in text.replace("secret_env", "")
