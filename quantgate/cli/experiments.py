"""`quantgate check|schema|run`: experiment files (sweeps of a folder are :mod:`quantgate.cli.sweeps`)."""

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
    warn_shared_names(owners)
    if bad:
        raise typer.Exit(1)


def warn_shared_names(owners: dict[tuple[str, str], list[Path]]) -> None:
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


def name_owners(items: list) -> dict[tuple[str, str], list[Path]]:
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


def emit(stream: TextIO, record: dict) -> None:
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
            emit(out, failed_record(str(file), config.name, config.expansion, " ".join(str(exc).split())))
            raise
        emit(out, outcome_record(outcome))
