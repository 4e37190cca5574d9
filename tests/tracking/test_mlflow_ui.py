"""The real MLflow UI, driven by headless Chromium: runs can be compared by gate and Sharpe, reports opened.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and ``selenium`` (dev extra).
Two small real experiments are run into a SQLite store, ``mlflow server`` serves it on a free port, and the
browser opens the experiment's runs table and a run's gate report through the UI's URL routes.

With ``QUANTGATE_UI_SCREENSHOT=<path>`` the runs table is also saved as a PNG there (the README's
``docs/img/mlflow_runs.png`` is made so, see ``benchmarks/screenshot_mlflow.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

SERVER_START_S = 180.0  # the deadline for `mlflow server` to answer /health
PAGE_WAIT_S = 90.0  # the deadline for one page element (the React app loads its chunks first)
SCREENSHOT_ENV = "QUANTGATE_UI_SCREENSHOT"
WINDOW = "--window-size=2300,800"  # wide enough for the key metric columns next to MLflow's side panels
GATE = {
    "min_holding_periods": 0,
    "min_total_return": -10.0,
    "min_sharpe": -10.0,
    "win_rate_min": 0.0,
    "win_rate_max": 1.0,
    "require_beat_buy_and_hold": False,
    "min_psr": 0.0,
    "min_dsr": 0.0,
    "max_bootstrap_pvalue": 1.0,
    "min_coverage": 0.9,
    "bootstrap_reps": 200,
    "leakage_cuts": 3,
}


def _experiment_file(folder: Path, symbol: str, mode: str) -> Path:
    raw = {
        "name": "ui-compare",
        "hypothesis": "Short-term state predicts the next week.",
        "data": {"source": "sample", "symbol": symbol, "timeframe": "1d", "start": "2006-01-01", "end": "2012-12-31"},
        "target": {"kind": "binary", "holding_period": 5},
        "model": {"device": "cpu", "params": {"max_depth": 3, "eta": 0.05}},
        "strategy": {"mode": mode, "risk_threshold": 0.45} if mode == "protect" else {"mode": mode},
        "gate": GATE,
        "registry": {"promote": False},
    }
    path = folder / f"ui-{symbol}-{mode}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def experiment_runs(qg_home: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """Run two real experiments (AAPL long_flat, MSFT protect) into SQLite; return (experiment id, run ids)."""
    from mlflow import MlflowClient

    from flows.experiment import experiment_flow
    from pipeline.tracking import configure_mlflow

    runs = (("AAPL", "long_flat"), ("MSFT", "protect"))
    run_ids = [experiment_flow(str(_experiment_file(tmp_path, symbol, mode))).run_id for symbol, mode in runs]
    configure_mlflow()
    return MlflowClient().get_run(run_ids[0]).info.experiment_id, run_ids


@pytest.fixture
def mlflow_server(experiment_runs: tuple[str, list[str]], tmp_path: Path) -> Iterator[str]:
    """A real ``mlflow server`` over the test's SQLite store on a free port; yields its base URL."""
    from pipeline.tracking import resolve_tracking_uri

    port = _free_port()
    exe = Path(sys.executable).with_name("mlflow")
    log = (tmp_path / "mlflow-server.log").open("w")
    command = [str(exe), "server", "--backend-store-uri", resolve_tracking_uri(None)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'mlflow-server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Debian Chromium through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("the MLflow UI test needs Debian's chromium and chromium-driver (apt-get install -y both)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", WINDOW):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(PAGE_WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_text(driver, text: str, where: Path) -> None:
    """Wait until an element showing ``text`` is on the page; on timeout keep a screenshot in ``where``."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    locator = (By.XPATH, f"//*[contains(normalize-space(text()), {text!r})]")
    try:
        WebDriverWait(driver, PAGE_WAIT_S).until(EC.visibility_of_element_located(locator))
    except TimeoutException:
        shot = where / f"timeout-{''.join(c if c.isalnum() else '_' for c in text)[:40]}.png"
        driver.save_screenshot(str(shot))
        pytest.fail(f"MLflow UI: {text!r} did not appear at {driver.current_url} (screenshot {shot})")


def _close_assistant(driver) -> None:
    """Close MLflow's assistant side panel, for a wider table in the picture (best effort)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//*[contains(text(), 'MLflow Assistant')]/following::button"):
        try:
            if "close" in (button.get_attribute("aria-label") or "").lower():
                button.click()
                return
        except WebDriverException:
            continue


def test_mlflow_ui_when_experiment_opened_shows_gate_and_sharpe_columns_and_the_gate_report(
    experiment_runs: tuple[str, list[str]], mlflow_server: str, browser, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from pipeline.tracking.mlflow_setup import runs_url

    experiment_id, run_ids = experiment_runs
    client = MlflowClient()
    runs = [client.get_run(run_id) for run_id in run_ids]
    names = [run.info.run_name for run in runs]
    assert names[0].startswith("AAPL-1d-long-flat-") and names[1].startswith("MSFT-1d-protect-")
    for run in runs:  # what the columns show: the verdict as a metric, the exact bars as the dataset input
        assert run.data.metrics["gate_passed"] == (1.0 if run.data.tags["gate.passed"] == "true" else 0.0)
        assert {"sharpe", "total_return", "max_drawdown", "n_trades", "psr", "dsr"} <= set(run.data.metrics)
        (dataset,) = [entry.dataset for entry in run.inputs.dataset_inputs]
        assert dataset.digest == run.data.tags["data.fingerprint"][:32]
        assert dataset.name == f"{run.data.tags['data.symbol']}-1d@sample[2006-01-01..2012-12-31]"

    # quantgate's saved view of the runs table: gate and key metric columns, sorted by Sharpe
    browser.get(runs_url(mlflow_server, experiment_id))
    for text in (*names, "Sort: sharpe", "gate_passed", "sharpe", "max_drawdown", "n_trades", "dsr"):
        _wait_for_text(browser, text, tmp_path)
    screenshot = os.environ.get(SCREENSHOT_ENV)
    if screenshot:
        _close_assistant(browser)
        time.sleep(2)  # let the table finish laying out; only for the picture, nothing is asserted on it
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(screenshot)

    verdict = "PASSED" if runs[0].data.metrics["gate_passed"] == 1.0 else "FAILED"
    browser.get(f"{mlflow_server}/#/experiments/{experiment_id}/runs/{run_ids[0]}/artifacts/gate/report.md")
    _wait_for_text(browser, f"Gate: {verdict}", tmp_path)
