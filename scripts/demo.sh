#!/usr/bin/env bash
# Sets up the workspace (scripts/setup.sh) and runs the live demo. Extra args go to seg_bringup.demo
# (e.g. --scenario my_scenario.yaml --out out/demo --set camera.rate=15).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
# shellcheck disable=SC1091
source scripts/env.sh
exec python -m seg_bringup.demo "$@"
