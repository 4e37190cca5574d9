"""`quantgate check|schema|run`: experiment files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from quantgate.cli._common import console, err_console, one_line_errors, quiet_orchestration

app = typer.Typer()


@app.command("check")
def check(files: list[Path] = typer.Argument(..., help="Experiment YAML files to validate.")) -> None:
    """Validate experiment files; print one line per problem naming the file and field."""
    from pipeline.config import load_experiments
    from pipeline.errors import ConfigError
    from pipeline.experiment import semantic_errors

    bad = 0
    owners: dict[tuple[str, str], list[Path]] = {}
    for path in files:
        try:
            configs = load_experiments(path)
            problems = [line for config in configs for line in semantic_errors(config, path)]
        except ConfigError as exc:
            problems = exc.errors
        if problems:
            bad += 1
            for line in problems:
                err_console.print(line, highlight=False, soft_wrap=True, markup=False)
        else:
            suffix = f" ({len(configs)} experiments)" if len(configs) > 1 else ""
            console.print(f"ok: {path}{suffix}", highlight=False)
            for key in {("name", config.name) for config in configs} | {
                ("registry.model_name", config.model_name) for config in configs
            }:
                if path not in owners.setdefault(key, []):
                    owners[key].append(path)
    for (field, value), paths in sorted(owners.items()):
        if len(paths) > 1 and not (field == "registry.model_name" and owners.get(("name", value)) == paths):
            shared = "an MLflow experiment and a registered model" if field == "name" else "a registered model"
            err_console.print(
                f"warning: {', '.join(str(p) for p in paths)}: {field}: {value!r} is used by {len(paths)} files; "
                f"they would share {shared}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    if bad:
        raise typer.Exit(1)


@app.command("schema")
def schema(output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file.")) -> None:
    """Print the JSON schema of experiment files (for editors)."""
    from pipeline.config import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@app.command("run")
@one_line_errors
def run(
    file: Path = typer.Argument(..., help="Experiment YAML file."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect and MLflow logs."),
) -> None:
    """Run one experiment end to end: data, quality, features, train, backtest, gate, MLflow, registry."""
    from pipeline.config import load_experiment

    load_experiment(file)  # fail fast, before Prefect starts, on a bad file
    quiet_orchestration(verbose)
    from flows.experiment import experiment_flow
    from quantgate.cli.summary import print_outcome

    outcome = experiment_flow(str(file))
    print_outcome(outcome)


@app.command("sweep")
@one_line_errors
def sweep(
    folder: Path = typer.Argument(..., help="Folder of experiment YAMLs (searched recursively)."),
    parallel: int = typer.Option(1, "--parallel", "-p", min=1, help="Experiments at a time on this machine."),
    force: bool = typer.Option(False, "--force", help="Rerun configs that already have a finished run."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect and MLflow logs."),
) -> None:
    """Run every experiment in a folder; skips configs already run on the same data and code."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.sweep import discover

    plan = discover(folder)
    for line in plan.errors:
        err_console.print(f"skipped bad file: {line}", highlight=False, markup=False, soft_wrap=True)
    if not plan.items:
        console.print(f"no experiments to run in {folder}")
        raise typer.Exit(1 if plan.errors else 0)
    quiet_orchestration(verbose)
    from flows.sweep import ItemResult, run_sweep
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
