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
