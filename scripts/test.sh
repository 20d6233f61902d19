#!/usr/bin/env bash
# Sets up the workspace (scripts/setup.sh) and runs the whole test suite. Extra args go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
# shellcheck disable=SC1091
source scripts/env.sh
exec python -m pytest "$@"
