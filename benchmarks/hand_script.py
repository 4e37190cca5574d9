"""The core of ``experiments/msft_protect.yaml`` written by hand: the baseline of ``benchmarks/startup.py``.

Same bars (bokeh-sampledata MSFT, split-adjusted, 2005-2012), similar features (returns, volatility, trend,
mean reversion), a binary target (next 5 sessions lose), XGBoost (depth 3, eta 0.05), 60/20/20 split, and a
vectorised "protect" backtest (long, flat when the predicted risk > 0.45) with 3 bps costs. No tracking, no
quality checks, no gate: what a user would write in a notebook. Prints one JSON line of stage timings.
"""

from __future__ import annotations

import json
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402

T_IMPORTS = time.perf_counter()


def bars() -> pd.DataFrame:
    import bokeh_sampledata.stocks as stocks

    raw = stocks.MSFT
    frame = pd.DataFrame(
        {k: raw[k] for k in ("open", "high", "low", "close", "volume", "adj_close")},
        index=pd.to_datetime(raw["date"]),
    ).sort_index()
    factor = frame["adj_close"] / frame["close"]
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column] * factor
    return frame.loc["2005-01-01":"2012-12-31"]


def features(frame: pd.DataFrame) -> pd.DataFrame:
    close = frame["close"]
    ret = np.log(close).diff()
    out = pd.DataFrame(index=frame.index)
    for n in (1, 5, 20):
        out[f"ret_{n}"] = np.log(close).diff(n)
    for n in (10, 20, 60):
        out[f"vol_{n}"] = ret.rolling(n).std()
    for n in (20, 50):
        out[f"trend_{n}"] = close / close.rolling(n).mean() - 1
    delta = close.diff()
    gain, loss = delta.clip(lower=0).rolling(14).mean(), (-delta.clip(upper=0)).rolling(14).mean()
    out["rsi_14"] = 100 - 100 / (1 + gain / loss)
    out["range"] = (frame["high"] - frame["low"]) / close
    out["volume_z"] = (frame["volume"] - frame["volume"].rolling(20).mean()) / frame["volume"].rolling(20).std()
    return out


def main() -> None:
    t = time.perf_counter()
    frame = bars()
    x = features(frame)
    forward = np.log(frame["close"]).shift(-5) - np.log(frame["close"])
    y = (forward < 0).astype(float)
    keep = x.notna().all(axis=1) & forward.notna()
    x, y, next_ret = x[keep], y[keep], frame["close"].pct_change().shift(-1)[keep].fillna(0.0)
    n = len(x)
    a, b = int(n * 0.6), int(n * 0.8)
    t_data = time.perf_counter()
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.05, "tree_method": "hist", "nthread": 2}
    train, valid = xgb.DMatrix(x.iloc[:a], y.iloc[:a]), xgb.DMatrix(x.iloc[a:b], y.iloc[a:b])
    booster = xgb.train(params, train, 300, evals=[(valid, "valid")], early_stopping_rounds=30, verbose_eval=False)
    risk = booster.predict(xgb.DMatrix(x.iloc[b:]))
    t_train = time.perf_counter()
    position = pd.Series(np.where(risk > 0.45, 0.0, 1.0), index=x.index[b:])
    costs = position.diff().abs().fillna(position.iloc[0]) * 3e-4
    strategy = position * next_ret.iloc[b:] - costs
    sharpe = float(strategy.mean() / strategy.std() * np.sqrt(252)) if strategy.std() > 0 else float("nan")
    t_backtest = time.perf_counter()
    print(
        json.dumps(
            {
                "imports_s": round(T_IMPORTS - T0, 3),
                "data_features_s": round(t_data - t, 3),
                "train_s": round(t_train - t_data, 3),
                "backtest_s": round(t_backtest - t_train, 3),
                "sharpe": round(sharpe, 3),
                "trades": int(position.diff().abs().sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
