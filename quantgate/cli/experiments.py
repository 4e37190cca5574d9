"""`quantgate check|schema|run`: experiment files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import typer

from quantgate.cli._common import console, err_console, one_line_errors, quiet_orchestration, stdout_to_stderr

app = typer.Typer()


@app.command("check")
@one_line_errors
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
    _warn_shared_names(owners)
    if bad:
        raise typer.Exit(1)


def _warn_shared_names(owners: dict[tuple[str, str], list[Path]]) -> None:
    """Warn when files share a ``name`` or ``registry.model_name`` (keys of ``owners``: field and value)."""
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


def _name_owners(items: list) -> dict[tuple[str, str], list[Path]]:
    """Which files use each experiment name and registered model name (``items`` are sweep items)."""
    owners: dict[tuple[str, str], list[Path]] = {}
    for item in items:
        for key in (("name", item.config.name), ("registry.model_name", item.config.model_name)):
            if item.path not in owners.setdefault(key, []):
                owners[key].append(item.path)
    return owners


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


JSON_HELP = "Print one JSON object per experiment on stdout (keys: config, run_id, gate_passed, failed_rules, metrics, "
JSON_HELP += "model_version, model_stage); progress and logs go to stderr."


def _emit(stream: TextIO, record: dict) -> None:
    stream.write(json.dumps(record, sort_keys=False, allow_nan=False) + "\n")
    stream.flush()


def _check_semantics(file: Path) -> None:
    """Refuse a file `quantgate check` would refuse, before Prefect starts or data is touched."""
    from pipeline.config import load_experiments
    from pipeline.errors import ConfigError
    from pipeline.experiment import semantic_errors

    configs = load_experiments(file)
    if len(configs) != 1:
        raise ConfigError(f"{file}: expands to {len(configs)} experiments; run it with `quantgate sweep`")
    problems = semantic_errors(configs[0], file)
    if problems:
        raise ConfigError(problems[0], problems)


@app.command("run")
@one_line_errors
def run(
    file: Path = typer.Argument(..., help="Experiment YAML file."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect and MLflow logs and tracebacks."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Run one experiment end to end: data, quality, features, train, backtest, gate, MLflow, registry."""
    _check_semantics(file)  # fail fast, before Prefect starts, on a bad file
    quiet_orchestration(verbose)
    if not as_json:
        from flows.experiment import experiment_flow
        from quantgate.cli.summary import print_outcome

        print_outcome(experiment_flow(str(file)))
        return
    with stdout_to_stderr() as out:
        from flows.experiment import experiment_flow
        from pipeline.config import load_experiment
        from pipeline.errors import PlatformError
        from quantgate.cli.summary import failed_record, outcome_record

        quiet_orchestration(verbose)  # Prefect is imported now: quiet the handlers it installed
        try:
            outcome = experiment_flow(str(file))
        except PlatformError as exc:
            config = load_experiment(file)
            _emit(out, failed_record(str(file), config.name, config.expansion, " ".join(str(exc).split())))
            raise
        _emit(out, outcome_record(outcome))


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

    plan = discover(folder)
    for line in plan.errors:
        err_console.print(f"skipped bad file: {line}", highlight=False, markup=False, soft_wrap=True)
    _warn_shared_names(_name_owners(plan.items))
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


def _sweep_json(folder: Path, parallel: int, force: bool, verbose: bool, out: TextIO) -> bool:
    """Run a sweep printing one JSON object per experiment to ``out`` as each ends; True if any failed."""
    from pipeline.sweep import discover

    plan = discover(folder)
    for line in plan.errors:
        err_console.print(f"skipped bad file: {line}", highlight=False, markup=False, soft_wrap=True)
    _warn_shared_names(_name_owners(plan.items))
    if not plan.items:
        err_console.print(f"no experiments to run in {folder}", highlight=False)
        return bool(plan.errors)
    quiet_orchestration(verbose)
    from flows.sweep import ItemResult, run_sweep
    from quantgate.cli.summary import failed_record, finished_run_record, outcome_record

    quiet_orchestration(verbose)
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
        _emit(out, record)

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
