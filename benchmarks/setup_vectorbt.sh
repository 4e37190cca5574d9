#!/usr/bin/env bash
# Create benchmarks/.venv-vectorbt (git-ignored): vectorbt lives only here, never in the project venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-vectorbt"
"$here/.venv-vectorbt/bin/pip" install --upgrade pip
"$here/.venv-vectorbt/bin/pip" install -r "$here/requirements-vectorbt.txt"
"$here/.venv-vectorbt/bin/python" -c "import vectorbt, numpy, pandas, numba; print('vectorbt', vectorbt.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__, 'numba', numba.__version__)"
