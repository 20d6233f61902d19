"""Builds a side's launch description for `ros2 launch` from the shared node graph."""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from .graph import DEFAULT_PROFILE, group_nodes, profile_params_file


def _config(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare("seg_bringup"), "config", f"{name}.yaml"])


def side_launch_description(side: str) -> LaunchDescription:
    """The `side` group's nodes, plus its Zenoh bridge unless bridge:=false (plain DDS between
    hosts); profile:=NAME lays config/profiles/NAME/<group>.yaml over the parameter files."""
    log_level = LaunchConfiguration("log_level")
    groups = [(side, LaunchConfiguration("params_file"), None),
              (f"{side}_bridge", LaunchConfiguration("bridge_params_file"),
               IfCondition(LaunchConfiguration("bridge")))]
    config_dir = Path(get_package_share_directory("seg_bringup")) / "config"

    def nodes(context):
        profile = LaunchConfiguration("profile").perform(context)
        actions = []
        for group, params_file, condition in groups:
            overlay = profile_params_file(config_dir, profile, group)
            for spec in group_nodes(group):
                actions.append(Node(
                    package=spec.package,
                    executable=spec.executable,
                    name=spec.name,
                    parameters=[params_file] + ([str(overlay)] if overlay else []),
                    remappings=list(spec.remappings),
                    ros_arguments=["--log-level", log_level],
                    output="screen",
                    condition=condition,
                ))
        return actions

    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=_config(side),
                              description=f"parameter file for the {side} nodes"),
        DeclareLaunchArgument("profile", default_value=DEFAULT_PROFILE,
                              description="parameter profile laid over the parameter files, e.g. cloudseg "
                                          "(low-resolution stream, super-resolution in the cloud)"),
        DeclareLaunchArgument("bridge", default_value="true",
                              description="carry the WAN topics over Zenoh; false: plain DDS between hosts"),
        DeclareLaunchArgument("bridge_params_file", default_value=_config(f"{side}_bridge"),
                              description=f"parameter file for the {side} Zenoh bridge"),
        DeclareLaunchArgument("log_level", default_value="info", description="ROS log level"),
        OpaqueFunction(function=nodes),
    ])
