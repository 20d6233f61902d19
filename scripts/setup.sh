#!/usr/bin/env bash
# Sets up the workspace: virtualenv with ROS 2 wheels, torch and PyAV, then colcon build.
# Idempotent: a second run only rebuilds what changed. Source scripts/env.sh afterwards.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: Python 3.11 is required (the ROS 2 wheels are built for it); got $("$python" -V)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (first run downloads about 3 GB for torch)"
  "$venv/bin/python" -m pip install --upgrade --quiet pip
  "$venv/bin/python" -m pip install --quiet --progress-bar off -r requirements.txt
  echo "$want" > "$stamp"
fi

# The ROS wheels' CMake exports name the include dirs of the machine they were built on.
py_inc="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_inc="$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')"
{ grep -rlZ '/opt/python/cp311-cp311' "$venv/share" --include='*.cmake' || true; } \
  | xargs -0 -r sed -i \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_inc}#g" \
      -e "s#/opt/python/cp311-cp311/include/python3.11#${py_inc}#g"

# shellcheck disable=SC1091
source "$venv/bin/activate"
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
echo "setup: colcon build"
# Files renamed or removed since the last build leave dangling links behind in a symlink install.
[ -d build ] && find build install -xtype l -delete 2>/dev/null || true
colcon --log-base log build --symlink-install --metas colcon.meta \
  --event-handlers console_cohesion- summary+ status- \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python"
echo "setup: done. Next: source scripts/env.sh"
