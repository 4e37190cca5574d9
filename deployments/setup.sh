#!/usr/bin/env bash
# Create the work pools prefect.yaml's deployments use, then deploy them all.
#
# Needs PREFECT_API_URL pointing at a Prefect server (`.venv/bin/prefect server start`) or Prefect Cloud.
# No activated venv needed: it runs the Prefect of the project's .venv (or of $QUANTGATE_PYTHON).
# Deployed runs start in this checkout; set QUANTGATE_REPO=/absolute/path when the workers' clone lives
# at another path.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
python="${QUANTGATE_PYTHON:-$repo/.venv/bin/python}"
if [ ! -x "$python" ]; then
  echo "error: no Python at $python; install quantgate as the README says, or set QUANTGATE_PYTHON" >&2
  exit 1
fi
bin="$(dirname "$python")"
prefect="$bin/prefect"
if [ -z "$("$python" -c 'from prefect.settings import PREFECT_API_URL; print(PREFECT_API_URL.value() or "")')" ]; then
  echo "error: PREFECT_API_URL is not set; start a server ($prefect server start) and export" \
    "PREFECT_API_URL=http://127.0.0.1:4200/api, or point it at your server" >&2
  exit 1
fi
for pool in quantgate-research quantgate-data; do
  "$prefect" work-pool inspect "$pool" >/dev/null 2>&1 || "$prefect" work-pool create "$pool" --type process
done
"$prefect" --no-prompt deploy --all
echo "deployed from $repo (runs start in ${QUANTGATE_REPO:-$repo})"
echo "now start workers: $prefect worker start --pool quantgate-research (and --pool quantgate-data)"
