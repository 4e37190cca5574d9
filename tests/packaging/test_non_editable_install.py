"""quantgate works from a built wheel (a non-editable install), run from a directory outside the checkout.

The wheel is built from a copy of the checkout and installed into a fresh virtual environment; the
environment borrows the already installed third-party packages (a path entry, so pip has nothing to
download), but quantgate's own code and data come only from the wheel. Then ``quantgate run`` runs the
README's example from another directory with the shipped gate policy and quality suites.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO

_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".import_linter_cache", "build", "*.egg-info"
)


def _run(*args: str | Path, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding quantgate from its wheel (built in pip's isolated build env); returns the venv folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=_SKIP)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist",
                 source, cwd=work)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (work / "dist").glob("quantgate-*.whl")
    venv = work / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    where = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work)
    purelib = Path(where.stdout.strip())
    (purelib / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    added = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=work)
    assert added.returncode == 0, added.stderr[-2000:]
    return venv


@pytest.mark.slow
def test_wheel_install_when_imported_serves_code_and_data_from_the_wheel_not_the_checkout(installed, tmp_path):
    probe = (
        "import pipeline; from pipeline.quality import expectations_dir; "
        "from pipeline.config._policy import DEFAULT_POLICY_PATH; "
        "print(pipeline.__file__); print(expectations_dir()); print(DEFAULT_POLICY_PATH); "
        "print(sorted(p.name for p in expectations_dir().glob('*.json')))"
    )
    result = _run(installed / "bin" / "python", "-c", probe, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    module, suites, policy, names = result.stdout.strip().splitlines()
    for path in (module, suites, policy):
        assert Path(path).is_relative_to(installed) and not Path(path).is_relative_to(REPO), path
    assert Path(policy).is_file()
    assert names == "['ohlcv_crypto.json', 'ohlcv_equity.json']"


@pytest.mark.slow
def test_wheel_install_when_readme_example_run_from_another_directory_passes(installed, tmp_path):
    example = tmp_path / "msft_protect.yaml"
    shutil.copy(REPO / "experiments" / "msft_protect.yaml", example)
    env = {
        "QUANTGATE_HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    assert "QUANTGATE_GATE_POLICY" not in env  # the shipped policy, read from the wheel
    result = _run(installed / "bin" / "quantgate", "run", example.name, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in ("msft-protect", "sample:MSFT 1d", "tier 1 sanity", "tier 3 statistics", "registry"):
        assert expected in result.stdout, (expected, result.stdout)
    assert (tmp_path / "home" / "mlflow.db").exists()
