"""Compact terminal summary of an experiment outcome."""

from __future__ import annotations

import math

from rich.padding import Padding
from rich.table import Table

from pipeline.experiment import ExperimentOutcome
from quantgate.cli._common import console

KEY_METRICS = (
    ("total_return", "total return", "{:+.1%}"),
    ("buy_hold_return", "buy & hold", "{:+.1%}"),
    ("excess_return", "excess", "{:+.1%}"),
    ("annual_return", "annual return", "{:+.1%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "max drawdown", "{:.1%}"),
    ("win_rate", "win rate", "{:.1%}"),
    ("n_trades", "trades", "{:.0f}"),
    ("exposure", "exposure", "{:.0%}"),
    ("downside_capture", "downside capture", "{:.2f}"),
)
TIER_NAMES = {1: "sanity", 2: "performance", 3: "statistics"}


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def print_outcome(outcome: ExperimentOutcome) -> None:
    """Print data window, gate tiers with failing rules, key metrics, MLflow run and model version."""
    verdict = "[bold green]PASSED[/]" if outcome.gate_passed else "[bold red]FAILED[/]"
    console.print(f"[bold]{outcome.name}[/]  ({outcome.config_path})", highlight=False)
    if outcome.expansion:
        console.print("  variant: " + ", ".join(f"{k}={v}" for k, v in outcome.expansion.items()), highlight=False)
    console.print(
        f"  data     {outcome.source}:{outcome.symbol} {outcome.timeframe}  {outcome.window}  "
        f"fingerprint {outcome.data_fingerprint[:12]}",
        highlight=False,
    )
    console.print(f"  model    xgboost on {outcome.device}  ({outcome.device_reason})", highlight=False)
    console.print(f"  gate     {verdict}   trials N={outcome.n_trials} ({outcome.n_trials_source})", highlight=False)
    for tier in (1, 2, 3):
        ok = outcome.tier_passed.get(tier, False)
        mark = "[green]pass[/]" if ok else "[red]fail[/]"
        console.print(f"    tier {tier} {TIER_NAMES[tier]:<12} {mark}", highlight=False)
        for rule in outcome.failed_rules:
            if rule.tier == tier:
                console.print(
                    f"      [red]x[/] {rule.name}: {_fmt(rule.value)} (needs {rule.threshold})", highlight=False
                )
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2))
    cells = []
    for key, label, fmt in KEY_METRICS:
        if key in outcome.metrics:
            value = outcome.metrics[key]
            cells.append((label, fmt.format(value) if math.isfinite(value) else "nan"))
    for i in range(0, len(cells), 3):
        row = []
        for label, value in cells[i : i + 3]:
            row += [f"[dim]{label}[/]", value]
        table.add_row(*row)
    console.print("  metrics  (test segment, after costs)")
    console.print(Padding(table, (0, 0, 0, 4), expand=False))
    console.print(f"  mlflow   run {outcome.run_id} in experiment '{outcome.experiment_name}'", highlight=False)
    console.print(f"           open it: {outcome.ui_hint}", highlight=False, soft_wrap=True)
    if outcome.model_version is None:
        console.print(f"  registry not registered ({outcome.model_name}: gate failed)", highlight=False)
    else:
        console.print(
            f"  registry {outcome.model_name} v{outcome.model_version}: {outcome.model_stage}", highlight=False
        )


def print_leaderboard(board) -> None:
    """Print a leaderboard frame as a table."""
    if board is None or board.empty:
        console.print("no finished runs yet")
        return
    table = Table(
        "#",
        "experiment",
        "symbol",
        "tf",
        "variant",
        "gate",
        "Sharpe",
        "return",
        "B&H",
        "excess",
        "max DD",
        "trades",
        "DSR",
        "N",
        "run id",
    )
    for i, row in enumerate(board.itertuples(index=False), start=1):
        gate = "[green]passed[/]" if row.gate == "passed" else "[red]failed[/]" if row.gate == "failed" else "?"
        table.add_row(
            str(i),
            row.experiment,
            row.symbol,
            row.timeframe,
            row.variant,
            gate,
            f"{row.sharpe:.2f}",
            f"{row.total_return:+.1%}",
            f"{row.buy_hold_return:+.1%}",
            f"{row.excess_return:+.1%}",
            f"{row.max_drawdown:.1%}",
            f"{row.n_trades:.0f}",
            f"{row.dsr:.2f}",
            str(row.n_trials),
            row.run_id[:8],
        )
    console.print(table)


def _number(value: object) -> float | int | None:
    """A JSON-safe number: NaN and infinities become null."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def outcome_record(outcome: ExperimentOutcome, status: str = "completed") -> dict[str, object]:
    """The ``--json`` object of a finished experiment.

    Keys: ``config``, ``run_id``, ``gate_passed``, ``failed_rules`` (rule names), ``metrics`` (name to value,
    null when not finite), ``model_version`` and ``model_stage`` (null when none), plus ``name``,
    ``expansion`` and ``status``.
    """
    return {
        "config": outcome.config_path,
        "name": outcome.name,
        "expansion": dict(outcome.expansion),
        "status": status,
        "run_id": outcome.run_id,
        "gate_passed": bool(outcome.gate_passed),
        "failed_rules": [rule.name for rule in outcome.failed_rules],
        "metrics": {name: _number(value) for name, value in sorted(outcome.metrics.items())},
        "model_version": outcome.model_version,
        "model_stage": outcome.model_stage,
    }


def failed_record(
    config: str, name: str | None, expansion: dict, error: str, status: str = "failed"
) -> dict[str, object]:
    """The ``--json`` object of an experiment without a verdict of its own: it failed (``error`` says why)
    or, with ``status="skipped"``, another sweep holds it (``error`` is the note)."""
    return {
        "config": config,
        "name": name,
        "expansion": dict(expansion),
        "status": status,
        "run_id": None,
        "gate_passed": False,
        "failed_rules": [],
        "metrics": {},
        "model_version": None,
        "model_stage": None,
        "error" if status == "failed" else "note": error,
    }


def finished_run_record(config: str, name: str, expansion: dict, run_id: str) -> dict[str, object]:
    """The ``--json`` object of an experiment a sweep skipped, read back from its finished MLflow run."""
    from mlflow.tracking import MlflowClient

    from pipeline.registry import get_version
    from pipeline.tracking import tags as tag

    client = MlflowClient()
    run = client.get_run(run_id)
    tags = run.data.tags
    rule_prefix = tag.gate_rule("")
    failed = sorted(
        key.removeprefix(rule_prefix)
        for key, value in tags.items()
        if key.startswith(rule_prefix) and value.strip().lower() == tag.bool_text(False)
    )
    version = stage = None
    found = client.search_model_versions(f"run_id = '{run_id}'")
    if found:
        latest = max(found, key=lambda v: int(v.version))
        info = get_version(latest.name, latest.version)
        version, stage = info.version, info.stage
    return {
        "config": config,
        "name": name,
        "expansion": dict(expansion),
        "status": "skipped",
        "run_id": run_id,
        "gate_passed": tags.get(tag.GATE_PASSED, "").strip().lower() == tag.bool_text(True),
        "failed_rules": failed,
        "metrics": {key: _number(value) for key, value in sorted(run.data.metrics.items())},
        "model_version": version,
        "model_stage": stage,
    }
