"""Set a strategy's session up from its trading file and run one cycle for the last closed bar (``--once``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipeline.execution.brokers import make_broker
from pipeline.execution.cycle import CycleResult, TradingSession, resolve_model, risk_engine, run_cycle
from pipeline.execution.ledger import Ledger
from pipeline.execution.paper import PaperBroker
from pipeline.execution.production import PinnedModel
from pipeline.execution.trading_file import TradingFile
from pipeline.timeframes import bar_length


def open_session(
    trading: TradingFile,
    *,
    timeframe: str,
    fee_bps: float,
    slippage_bps: float,
    strategy: str | None = None,
    anchor: dt.datetime | None = None,
    db_url: str | None = None,
    simulate: bool = False,
    asset_class: str | None = None,
) -> TradingSession:
    """Ledger, broker and risk rules of one strategy (``simulate``: a paper account whatever the file says).

    A session is kept per process and reused by later cycles with the same file and settings, so a warm
    process does not rebuild its broker and risk rules, and keeps the decisions already predicted (a held
    decision is never predicted again). Everything a session knows about orders and positions lives in
    the database; only the current bar and those decisions are held in memory.
    """
    from pipeline.store import ensure_schema

    engine = ensure_schema(db_url)
    strategy = strategy or trading.name
    start = anchor or dt.datetime.combine(trading.start or dt.date.today(), dt.time(), dt.UTC)
    key = (trading.model_dump_json(), strategy, start, str(engine.url), timeframe, fee_bps, slippage_bps, simulate)
    if key in _sessions:
        return _sessions[key]
    if simulate or trading.broker == "paper":
        broker = PaperBroker(engine, strategy, trading.capital, trading.fill_model, fee_bps, slippage_bps)
    else:
        broker = make_broker(trading, asset_class)
    session = TradingSession(trading, Ledger(engine), broker, strategy, start, risk_engine(trading, timeframe))
    if len(_sessions) >= MAX_SESSIONS:
        _sessions.pop(next(iter(_sessions)))
    _sessions[key] = session
    return session


MAX_SESSIONS = 64
_sessions: dict[tuple, TradingSession] = {}


def symbols_of(trading: TradingFile, model: PinnedModel | None, fallback: str | None = None) -> list[str]:
    """The file's symbols, else the model's own."""
    if trading.symbols:
        return list(trading.symbols)
    if model is not None:
        return [model.config.data.symbol]
    return [fallback] if fallback else []


def first_decision(model: PinnedModel, now: dt.datetime) -> dt.datetime:
    """The earliest bar a cycle at ``now`` may have to decide on (the last decision bar of the holding grid)."""
    bars = max(10, model.config.target.holding_period + 1)
    return (pd.Timestamp(now) - bars * bar_length(model.config.data.timeframe)).to_pydatetime()


def load_bars(
    model: PinnedModel,
    symbols: list[str],
    first: dt.datetime,
    last: dt.date,
    anchor: dt.datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Bring bars up to date in the store (ingesting what is missing) and read them, with feature history.

    The window starts early enough for the model's warm-up and the EWM margin before ``first`` (the first
    bar to decide on), and no later than ``anchor`` (the decision rule reads every bar since the strategy's
    anchor). The window must pass the data-quality suite of the model's asset class
    (``DataQualityError`` otherwise).
    """
    from pipeline.experiment.data import load_experiment_bars
    from pipeline.quality import raise_for_failure, validate_bars

    days = model.history_bars * bar_length(model.config.data.timeframe) * (1.6 if model.asset_class == "equity" else 1)
    begin = pd.Timestamp(first) - max(days, pd.Timedelta(days=1))
    if anchor is not None:
        begin = min(begin, pd.Timestamp(anchor))
    start = begin.date()
    out = {}
    for symbol in symbols:
        data = model.config.data.model_copy(update={"symbol": symbol, "start": start, "end": last})
        bars = load_experiment_bars(data).bars
        key = (symbol, data.timeframe, model.asset_class)
        unchecked = _unvalidated_tail(key, bars)
        if unchecked is not None:
            report = validate_bars(unchecked, asset_class=model.asset_class, timeframe=data.timeframe)
            raise_for_failure(report, f"{symbol} {data.timeframe} (trading window)")
            _validated[key] = _fingerprint(bars)
        out[symbol] = bars
    return out


#: Bars before the first new bar that are validated again with it (the jump check's centred window is 50).
QUALITY_CONTEXT_BARS = 100
#: (symbol, timeframe, asset class) -> per-bar content hashes of the window that last passed the suite.
_validated: dict[tuple[str, str, str], pd.Series] = {}


def _fingerprint(bars: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(bars[["open", "high", "low", "close", "volume"]], index=True)


def _unvalidated_tail(key: tuple[str, str, str], bars: pd.DataFrame) -> pd.DataFrame | None:
    """The part of ``bars`` the quality suite has not passed yet in this process (None: all of it passed).

    A window whose bars up to the last one that passed are unchanged (its start may have moved forward)
    needs only its new bars checked, with ``QUALITY_CONTEXT_BARS`` of context; otherwise it is checked whole.
    """
    seen = _validated.get(key)
    if seen is None or bars.empty or bars.index[0] < seen.index[0] or seen.index[-1] not in bars.index:
        return bars
    position = bars.index.get_loc(seen.index[-1])
    known = _fingerprint(bars.iloc[: position + 1]).to_numpy()
    passed = seen.loc[bars.index[0] :].to_numpy()
    if len(known) != len(passed) or not (known == passed).all():
        return bars  # a stored bar changed or appeared: check everything
    if position == len(bars) - 1:
        return None
    return bars.iloc[max(0, position + 1 - QUALITY_CONTEXT_BARS) :]


def trade_once(
    trading: TradingFile, now: dt.datetime | None = None, db_url: str | None = None, track: bool = True
) -> CycleResult:
    """Run one cycle of ``trading`` for the last bar closed at ``now`` (default: the current time).

    With ``track``, the cycle is also a step of its trading day's MLflow run (after the orders are sent).
    """
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    now = now or dt.datetime.now(dt.UTC)
    model = resolve_model(trading)
    if model is None:
        return _no_model_cycle(trading, now, db_url)
    costs, timeframe = model.config.costs, model.config.data.timeframe
    session = open_session(
        trading,
        timeframe=timeframe,
        fee_bps=costs.fee_bps,
        slippage_bps=costs.slippage_bps,
        db_url=db_url,
        asset_class=model.asset_class,
    )
    first = first_decision(model, now)
    bars = load_bars(model, symbols_of(trading, model), first, now.date(), anchor=session.anchor)
    result = run_cycle(session, now, bars, model, timeframe, model.asset_class)
    if track:
        from pipeline.execution.tracking import log_cycle

        log_cycle(session, result, bars, db_url)
    return result


def _no_model_cycle(trading: TradingFile, now: dt.datetime, db_url: str | None) -> CycleResult:
    """Without a Production version: flatten what the account holds (or hold), per ``on_no_model``."""
    session = open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0, db_url=db_url)
    held = session.broker.positions()
    if trading.on_no_model == "hold" or not held:
        return CycleResult(None, "none", {}, [], session.broker.account().cash, skipped="no Production version")
    from pipeline.store import BarStore

    store = BarStore(db_url)
    bars = {s: store.load(s, "1d", end=now) for s in held}
    return run_cycle(session, now, bars, None, "1d", "equity")
