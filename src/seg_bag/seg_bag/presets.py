"""What a recording holds (topic presets) and the `ros2 bag` command lines the launch files run.

ROS-free: read by the launch files (real `ros2 bag record/play`) and by the project's own recorder.
"""
from __future__ import annotations

import time

COMPACT = (
    "/camera/image_raw/h264",                   # what the robot sent: replays through the decoder
    "/camera/camera_info",
    "/cloud/segmentation/labels/compressed",    # the cloud's labels as PNG (what crossed the WAN)
    "/cloud/segmentation/label_info",
    "/segmentation/label_info",
    "/segmentation/status",                     # which source served each frame
    "/link/status",
    "/seg/timing",
)
FULL = COMPACT + (
    "/camera/image_raw",
    "/camera/ground_truth",
    "/cloud/image_raw",
    "/cloud/segmentation/labels",
    "/edge/segmentation/labels",
    "/segmentation/labels",
    "/segmentation/color_mask",
)
PRESETS = {"compact": COMPACT, "full": FULL}


def preset_topics(preset: str) -> tuple[str, ...]:
    if preset not in PRESETS:
        raise ValueError(f"unknown recording preset '{preset}'; choose from {', '.join(PRESETS)}")
    return PRESETS[preset]


def default_bag_name(prefix: str = "rosbag2") -> str:
    """A new bag folder name like rosbag2's own default: <prefix>_YYYY_MM_DD-HH_MM_SS."""
    return time.strftime(f"{prefix}_%Y_%m_%d-%H_%M_%S")


def record_command(preset: str, output: str) -> list[str]:
    """`ros2 bag record` of a preset into the bag folder `output`, MCAP storage."""
    return ["ros2", "bag", "record", "-s", "mcap", "-o", output, "--topics", *preset_topics(preset)]


def play_command(bag: str, rate: float = 1.0, loop: bool = False, start_offset: float = 0.0,
                 clock_hz: float = 0.0, topics: tuple[str, ...] = (),
                 remaps: dict[str, str] | None = None) -> list[str]:
    """`ros2 bag play` of `topics` (all when empty) at `rate` from `start_offset` s, optionally looping and
    publishing /clock at `clock_hz`; `remaps` renames bag topics (e.g. a robot's camera topic)."""
    if not rate > 0:
        raise ValueError(f"rate {rate} must be > 0")
    if start_offset < 0 or clock_hz < 0:
        raise ValueError("start_offset and clock must be >= 0")
    cmd = ["ros2", "bag", "play", bag, "--rate", f"{rate:g}", "--start-offset", f"{start_offset:g}"]
    if loop:
        cmd.append("--loop")
    if clock_hz > 0:
        cmd += ["--clock", f"{clock_hz:g}"]
    if topics:
        cmd += ["--topics", *topics]
    if remaps:
        cmd += ["--remap", *(f"{src}:={dst}" for src, dst in remaps.items())]
    return cmd
