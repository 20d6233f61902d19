#!/bin/bash
# Sources ROS 2 and the seg workspace, then runs the command (default: the edge launch file).
set -e
# shellcheck disable=SC1091
source "/opt/ros/${ROS_DISTRO:-kilted}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
exec "$@"
