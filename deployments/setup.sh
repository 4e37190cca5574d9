#!/usr/bin/env bash
# Create the work pools prefect.yaml's deployments use, then deploy them all.
# Needs PREFECT_API_URL pointing at a Prefect server (`prefect server start`) or Prefect Cloud.
set -euo pipefail
cd "$(dirname "$0")/.."
for pool in quantgate-research quantgate-data; do
  prefect work-pool inspect "$pool" >/dev/null 2>&1 || prefect work-pool create "$pool" --type process
done
prefect deploy --all
echo "now start workers: prefect worker start --pool quantgate-research (and --pool quantgate-data)"
