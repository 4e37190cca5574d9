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
# A server just started (`quantgate server start`, `prefect server start`) may still be migrating: wait for it (2 min at most).
"$python" - "$prefect" <<'PY'
import sys
import time

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

url = PREFECT_API_URL.value()
if not url:
    sys.exit(
        f"error: PREFECT_API_URL is not set; start a server (quantgate server start --port 4200) and "
        "export PREFECT_API_URL=http://127.0.0.1:4200/api, or point it at your server"
    )
deadline = time.monotonic() + 120
with get_client(sync_client=True) as client:
    while (problem := client.api_healthcheck()) is not None:
        if time.monotonic() > deadline:
            sys.exit(f"error: no healthy Prefect server at {url} after 120 s ({problem.__class__.__name__})")
        time.sleep(1)
PY
for pool in quantgate-research quantgate-data quantgate-trading; do
  "$prefect" work-pool inspect "$pool" >/dev/null 2>&1 || "$prefect" work-pool create "$pool" --type process
done
"$prefect" --no-prompt deploy --all
echo "deployed from $repo (runs start in ${QUANTGATE_REPO:-$repo})"
echo "now start workers: $prefect worker start --pool quantgate-research (and --pool quantgate-data, --pool quantgate-trading)"
