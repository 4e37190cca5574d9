"""`quantgate sweep|leaderboard`: a folder of experiments, N at a time, and the ranking of finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import typer

from flows.preload import start_fork_server
from quantgate.cli._common import console, err_console, one_line_errors, quiet_orchestration, stdout_to_stderr
from quantgate.cli.experiments import JSON_HELP, emit, name_owners, warn_shared_names

app = typer.Typer()


@app.command("sweep")
@one_line_errors
def sweep(
    folder: Path = typer.Argument(..., help="Folder of experiment YAMLs (searched recursively)."),
    parallel: int = typer.Option(1, "--parallel", "-p", min=1, help="Experiments at a time on this machine."),
    force: bool = typer.Option(False, "--force", help="Rerun configs that already have a finished run."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect and MLflow logs and tracebacks."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Run every experiment in a folder; skips configs already run on the same data and code."""
    if as_json:
        with stdout_to_stderr() as out:
            failed = _sweep_json(folder, parallel, force, verbose, out)
        if failed:
            raise typer.Exit(1)
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.sweep import discover

    quiet_orchestration(verbose)  # the environment is final from here: the fork server and the workers inherit it
    start_fork_server(parallel)  # with --parallel > 1: its imports overlap this process's parsing and imports
    plan = discover(folder)
    for line in plan.errors:
        err_console.print(f"skipped bad file: {line}", highlight=False, markup=False, soft_wrap=True)
    warn_shared_names(name_owners(plan.items))
    if not plan.items:
        console.print(f"no experiments to run in {folder}")
        raise typer.Exit(1 if plan.errors else 0)
    from flows.sweep import run_sweep
    from pipeline.sweep.outcome import ItemResult
    from quantgate.cli.summary import print_leaderboard

    marks = {"completed": "[green]done[/]", "skipped": "[cyan]skip[/]", "failed": "[red]fail[/]"}
    with Progress(
        TextColumn("[bold]sweep[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("sweep", total=len(plan.items))

        def on_result(result: ItemResult) -> None:
            detail = ""
            if result.outcome is not None:
                gate = "[green]gate passed[/]" if result.outcome.gate_passed else "[red]gate failed[/]"
                detail = f"{gate}, Sharpe {result.outcome.metrics.get('sharpe', float('nan')):.2f}"
            elif result.error:
                detail = result.error
            elif result.run_id:
                detail = f"already run ({result.run_id})"
            elif result.note:
                detail = result.note
            label, detail = escape(result.label), detail if result.outcome is not None else escape(detail)
            progress.console.print(f"{marks[result.status]} {label}  {detail}", highlight=False, soft_wrap=True)
            progress.advance(bar)

        outcome = run_sweep(str(folder), parallel=parallel, force=force, on_result=on_result)
    console.print(
        f"sweep {outcome.family}: {outcome.count('completed')} run, {outcome.count('skipped')} skipped, "
        f"{outcome.count('failed')} failed, {len(outcome.bad_files)} bad file(s); MLflow run {outcome.run_id}",
        highlight=False,
    )
    print_leaderboard(outcome.leaderboard)
    if outcome.count("failed") or outcome.bad_files:
        raise typer.Exit(1)


def _sweep_json(folder: Path, parallel: int, force: bool, verbose: bool, out: TextIO) -> bool:
    """Run a sweep printing one JSON object per experiment to ``out`` as each ends; True if any failed."""
    from pipeline.sweep import discover

    quiet_orchestration(verbose)  # the environment is final from here: the fork server and the workers inherit it
    start_fork_server(parallel)  # with --parallel > 1: its imports overlap this process's parsing and imports
    plan = discover(folder)
    for line in plan.errors:
        err_console.print(f"skipped bad file: {line}", highlight=False, markup=False, soft_wrap=True)
    warn_shared_names(name_owners(plan.items))
    if not plan.items:
        err_console.print(f"no experiments to run in {folder}", highlight=False)
        return bool(plan.errors)
    from flows.sweep import run_sweep
    from pipeline.sweep.outcome import ItemResult
    from quantgate.cli.summary import failed_record, finished_run_record, outcome_record

    items = {item.label: item for item in plan.items}

    def on_result(result: ItemResult) -> None:
        item = items.get(result.label)
        config = str(item.path) if item is not None else result.label
        name = item.config.name if item is not None else None
        expansion = dict(item.config.expansion) if item is not None else {}
        if result.outcome is not None:
            record = outcome_record(result.outcome, result.status)
        elif result.status == "skipped" and result.run_id:
            record = finished_run_record(config, name or "", expansion, result.run_id)
        elif result.status == "skipped":
            record = failed_record(config, name, expansion, result.note or "claimed by another sweep", "skipped")
        else:
            record = failed_record(config, name, expansion, result.error or "failed")
        emit(out, record)

    outcome = run_sweep(str(folder), parallel=parallel, force=force, on_result=on_result)
    err_console.print(
        f"sweep {outcome.family}: {outcome.count('completed')} run, {outcome.count('skipped')} skipped, "
        f"{outcome.count('failed')} failed, {len(outcome.bad_files)} bad file(s); MLflow run {outcome.run_id}",
        highlight=False,
    )
    return bool(outcome.count("failed") or outcome.bad_files)


@app.command("leaderboard")
@one_line_errors
def leaderboard(
    experiment: list[str] | None = typer.Option(None, "--experiment", "-e", help="Experiment name(s)."),
    sort: str = typer.Option("sharpe", "--sort", help="Metric to rank by (max_drawdown ranks ascending)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
) -> None:
    """Best finished runs from MLflow with their gate status."""
    quiet_orchestration(False)
    from pipeline.sweep import leaderboard as board_of
    from pipeline.tracking import configure_mlflow
    from quantgate.cli.summary import print_leaderboard

    configure_mlflow()
    try:
        board = board_of(experiment or None, sort=sort, limit=limit)
    except ValueError as exc:
        from pipeline.errors import ConfigError

        raise ConfigError(f"--sort: {exc}") from exc
    print_leaderboard(board)
