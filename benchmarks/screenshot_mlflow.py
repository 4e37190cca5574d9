"""Refresh the README's picture of the MLflow runs table (``docs/img/mlflow_runs.png``).

It runs the browser test (``tests/tracking/test_mlflow_ui.py``: two small real experiments, a real
``mlflow server``, headless Debian Chromium) with ``QUANTGATE_UI_SCREENSHOT`` set, so the picture is exactly
what the test saw. Needs ``apt-get install -y chromium chromium-driver`` and the dev extras.

Usage::

    .venv/bin/python benchmarks/screenshot_mlflow.py [--out docs/img/mlflow_runs.png]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST = "tests/tracking/test_mlflow_ui.py"
TIMEOUT_S = 900


def main() -> int:
    """Run the browser test with the screenshot flag; return its exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "mlflow_runs.png")
    args = parser.parse_args()
    env = {**os.environ, "QUANTGATE_UI_SCREENSHOT": str(args.out.resolve())}
    command = [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=REPO, env=env, timeout=TIMEOUT_S, check=False)
    if done.returncode == 0:
        print(f"saved {args.out}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
