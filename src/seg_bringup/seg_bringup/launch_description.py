"""Builds a side's launch description for `ros2 launch` from the shared node graph."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from .graph import group_nodes


def _config(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare("seg_bringup"), "config", f"{name}.yaml"])


def side_launch_description(side: str) -> LaunchDescription:
    """The `side` group's nodes, plus its Zenoh bridge unless bridge:=false (plain DDS between hosts)."""
    log_level = LaunchConfiguration("log_level")
    groups = [(side, LaunchConfiguration("params_file"), None),
              (f"{side}_bridge", LaunchConfiguration("bridge_params_file"),
               IfCondition(LaunchConfiguration("bridge")))]
    actions = [
        DeclareLaunchArgument("params_file", default_value=_config(side),
                              description=f"parameter file for the {side} nodes"),
        DeclareLaunchArgument("bridge", default_value="true",
                              description="carry the WAN topics over Zenoh; false: plain DDS between hosts"),
        DeclareLaunchArgument("bridge_params_file", default_value=_config(f"{side}_bridge"),
                              description=f"parameter file for the {side} Zenoh bridge"),
        DeclareLaunchArgument("log_level", default_value="info", description="ROS log level"),
    ]
    for group, params_file, condition in groups:
        for spec in group_nodes(group):
            actions.append(Node(
                package=spec.package,
                executable=spec.executable,
                name=spec.name,
                parameters=[params_file],
                remappings=list(spec.remappings),
                ros_arguments=["--log-level", log_level],
                output="screen",
                condition=condition,
            ))
    return LaunchDescription(actions)
