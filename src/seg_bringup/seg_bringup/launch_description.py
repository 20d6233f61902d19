"""Builds a side's launch description for `ros2 launch` from the shared node graph."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from .graph import side_nodes


def side_launch_description(side: str) -> LaunchDescription:
    params_file = LaunchConfiguration("params_file")
    log_level = LaunchConfiguration("log_level")
    actions = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("seg_bringup"), "config", f"{side}.yaml"]),
            description=f"parameter file for the {side} nodes"),
        DeclareLaunchArgument("log_level", default_value="info", description="ROS log level"),
    ]
    for spec in side_nodes(side):
        actions.append(Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            parameters=[params_file],
            remappings=list(spec.remappings),
            ros_arguments=["--log-level", log_level],
            output="screen",
        ))
    return LaunchDescription(actions)
