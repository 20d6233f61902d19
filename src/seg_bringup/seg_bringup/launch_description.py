"""Builds the launch descriptions for `ros2 launch` from the shared node graph."""
from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from seg_bag.presets import PRESETS, default_bag_name, play_command, record_command

from .graph import DEFAULT_PROFILE, NodeSpec, group_nodes, profile_params_file

TRUE = ("true", "1", "yes")


def _config(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare("seg_bringup"), "config", f"{name}.yaml"])


def _node(spec: NodeSpec, parameters: list, condition=None) -> Node:
    return Node(package=spec.package, executable=spec.executable, name=spec.name, parameters=parameters,
                remappings=list(spec.remappings), ros_arguments=["--log-level", LaunchConfiguration("log_level")],
                output="screen", condition=condition)


def _log_level_argument() -> DeclareLaunchArgument:
    return DeclareLaunchArgument("log_level", default_value="info", description="ROS log level")


def _record(context, side: str) -> list:
    """`ros2 bag record` of the chosen preset (MCAP) into record_dir."""
    preset = LaunchConfiguration("record_preset").perform(context)
    output = LaunchConfiguration("record_dir").perform(context) or default_bag_name(f"rosbag2_{side}")
    return [ExecuteProcess(cmd=record_command(preset, output), name="bag_record", output="screen")]


def side_launch_description(side: str) -> LaunchDescription:
    """The `side` group's nodes, plus its Zenoh bridge unless bridge:=false (plain DDS between hosts),
    plus (edge) the link adaptation with adapt:=true, plus `ros2 bag record` with record:=true;
    profile:=NAME lays config/profiles/NAME/<group>.yaml over the parameter files."""
    groups = [(side, LaunchConfiguration("params_file"), None),
              (f"{side}_bridge", LaunchConfiguration("bridge_params_file"),
               IfCondition(LaunchConfiguration("bridge")))]
    adapt = []
    if side == "edge":
        groups.append(("adaptation", _config("adaptation"), IfCondition(LaunchConfiguration("adapt"))))
        adapt = [DeclareLaunchArgument("adapt", default_value="false",
                                       description="move the encoder along the profile ladder (scale, bitrate, "
                                                   "fps) as the link's bandwidth changes, with frame selection")]
    config_dir = Path(get_package_share_directory("seg_bringup")) / "config"

    def nodes(context) -> list:
        profile = LaunchConfiguration("profile").perform(context)
        actions = []
        for group, params_file, condition in groups:
            overlay = profile_params_file(config_dir, profile, group)
            for spec in group_nodes(group):
                actions.append(_node(spec, [params_file] + ([str(overlay)] if overlay else []), condition))
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
        *adapt,
        _log_level_argument(),
        DeclareLaunchArgument("record", default_value="false",
                              description="record a topic preset with `ros2 bag record` (MCAP storage)"),
        DeclareLaunchArgument("record_preset", default_value="compact", choices=list(PRESETS),
                              description="compact: H.264 packets, camera info, PNG labels, label info, status, "
                                          "timing; full: + raw images and masks"),
        DeclareLaunchArgument("record_dir", default_value="",
                              description=f"bag folder to create; empty: rosbag2_{side}_YYYY_MM_DD-HH_MM_SS"),
        OpaqueFunction(function=_record, args=[side], condition=IfCondition(LaunchConfiguration("record"))),
        OpaqueFunction(function=nodes),
    ])


def _player_defaults() -> dict:
    path = Path(get_package_share_directory("seg_bringup")) / "config" / "replay.yaml"
    return yaml.safe_load(path.read_text())["bag_player"]["ros__parameters"]


def _player(context, player_spec: NodeSpec) -> list:
    """The bag player: `ros2 bag play`, or the project's bag_player (which also turns a robot's
    CompressedImage camera topic into Image frames)."""
    arg = {name: LaunchConfiguration(name).perform(context)
           for name in ("player", "bag", "rate", "loop", "start_offset", "clock", "camera_topic", "camera_output")}
    topics = tuple(_player_defaults()["topics"])
    remaps = {}
    if arg["camera_topic"]:
        topics += (arg["camera_topic"],)
        remaps[arg["camera_topic"]] = arg["camera_output"]
    if arg["player"] == "seg_bag":
        settings = {"bag": arg["bag"], "rate": float(arg["rate"]), "loop": arg["loop"].lower() in TRUE,
                    "start_offset": float(arg["start_offset"]), "clock": float(arg["clock"]),
                    "camera_topic": arg["camera_topic"], "camera_output": arg["camera_output"]}
        return [_node(player_spec, [LaunchConfiguration("params_file"), settings])]
    return [ExecuteProcess(cmd=play_command(arg["bag"], float(arg["rate"]), arg["loop"].lower() in TRUE,
                                            float(arg["start_offset"]), float(arg["clock"]), topics, remaps),
                           name="bag_play", output="screen")]


def replay_launch_description() -> LaunchDescription:
    """A bag played into the encoder, decoder, segmentation and arbiter (the `replay` group)."""
    defaults = _player_defaults()
    base_files = {"edge": LaunchConfiguration("edge_params_file"), "cloud": LaunchConfiguration("cloud_params_file")}
    actions = [
        DeclareLaunchArgument("bag", description="rosbag2 folder (or .mcap/.db3 file) to play"),
        DeclareLaunchArgument("rate", default_value=str(defaults["rate"]), description="playback speed factor"),
        DeclareLaunchArgument("loop", default_value=str(defaults["loop"]).lower(), description="start over at the end"),
        DeclareLaunchArgument("start_offset", default_value=str(defaults["start_offset"]),
                              description="seconds into the bag to start at"),
        DeclareLaunchArgument("clock", default_value=str(defaults["clock"]),
                              description="publish the bag's time on /clock at this rate (Hz); the arbiter "
                                          "runs on it (use_sim_time)"),
        DeclareLaunchArgument("camera_topic", default_value=defaults["camera_topic"],
                              description="a bag topic with the robot's own camera frames to feed the graph"),
        DeclareLaunchArgument("camera_output", default_value=defaults["camera_output"],
                              description="/cloud/image_raw: frames straight to the segmentation; "
                                          "/camera/image_raw: through the H.264 encoder"),
        DeclareLaunchArgument("player", default_value="ros2_bag", choices=["ros2_bag", "seg_bag"],
                              description="ros2_bag: `ros2 bag play`; seg_bag: the project's bag_player (needed "
                                          "for a CompressedImage camera_topic)"),
        DeclareLaunchArgument("params_file", default_value=_config("replay"),
                              description="replay settings over the edge and cloud parameter files"),
        DeclareLaunchArgument("edge_params_file", default_value=_config("edge"),
                              description="parameter file the encoder and arbiter ran with"),
        DeclareLaunchArgument("cloud_params_file", default_value=_config("cloud"),
                              description="parameter file the decoder and segmentation ran with"),
        _log_level_argument(),
    ]
    for spec in group_nodes("replay"):
        if spec.executable == "bag_player":
            actions.append(OpaqueFunction(function=_player, args=[spec]))
        else:
            actions.append(_node(spec, [base_files[spec.params_from], LaunchConfiguration("params_file")]))
    return LaunchDescription(actions)
