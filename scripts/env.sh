# Source this file (bash) to use the built workspace: venv, ROS 2 overlay, Fast DDS settings.
_seg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$_seg_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$_seg_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_seg_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# colcon's setup scripts read unset variables: relax `set -u` while sourcing them.
case $- in *u*) _seg_nounset=1; set +u ;; *) _seg_nounset= ;; esac
# shellcheck disable=SC1091
source "$_seg_root/install/setup.bash"
[ -n "$_seg_nounset" ] && set -u
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Large image messages need Fast DDS's large-data transports, else best-effort frames are lost.
export FASTDDS_BUILTIN_TRANSPORTS="${FASTDDS_BUILTIN_TRANSPORTS:-LARGE_DATA}"
unset _seg_root _seg_nounset
