"""prefect.yaml: every deployment points at a real flow and passes parameters that flow accepts."""

from __future__ import annotations

import importlib
import inspect

import pytest
import yaml

from tests.conftest import REPO

DEPLOYMENTS = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_when_loaded_names_a_flow_and_its_parameters(deployment: dict) -> None:
    module_path, function = deployment["entrypoint"].split(":")
    module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, function)
    assert flow.__class__.__name__ == "Flow"
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(deployment.get("parameters", {})) <= accepted
    assert deployment["work_pool"]["name"].startswith("quantgate-")
    for schedule in deployment.get("schedules", []):
        assert len(schedule["cron"].split()) == 5


def test_prefect_yaml_when_read_has_no_secrets() -> None:
    text = (REPO / "prefect.yaml").read_text().lower()
    for word in ("api_key", "secret", "password"):
        assert f"{word}:" not in text


def _pull_steps_as_deployed(env: dict[str, str]) -> list:
    """Render prefect.yaml's pull steps the way `prefect deploy` does: run the build steps from the repo
    root, then apply their outputs (Prefect's own step function and templating)."""
    import asyncio
    import os

    from prefect.deployments.steps import run_shell_script
    from prefect.utilities.templating import apply_values

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    outputs: dict = {}
    here = os.getcwd()
    os.chdir(REPO)
    try:
        for step in config["build"]:
            ((fqn, inputs),) = step.items()
            assert fqn == "prefect.deployments.steps.run_shell_script"
            inputs = dict(inputs)
            step_id = inputs.pop("id")
            outputs[step_id] = asyncio.run(run_shell_script(**inputs, env=env))
    finally:
        os.chdir(here)
    return apply_values(config["pull"], outputs, remove_notset=False)


def test_pull_step_when_deployed_from_the_checkout_starts_runs_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANTGATE_REPO", raising=False)
    pull = _pull_steps_as_deployed({})
    assert pull == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]


def test_pull_step_when_quantgate_repo_set_at_deploy_time_starts_runs_there() -> None:
    pull = _pull_steps_as_deployed({"QUANTGATE_REPO": "/srv/quantgate"})
    assert pull == [{"prefect.deployments.steps.set_working_directory": {"directory": "/srv/quantgate"}}]


def test_setup_sh_when_no_prefect_server_configured_says_so_and_fails(tmp_path) -> None:
    import subprocess

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    result = subprocess.run(
        ["bash", str(REPO / "deployments" / "setup.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "PREFECT_API_URL is not set" in result.stderr and "Traceback" not in result.stderr
