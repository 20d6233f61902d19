"""Writes a robot camera bag the way another recorder would: rosbags alone, no rclpy, no project nodes.

    python write_camera_bag.py OUT [--frames N] [--rate HZ] [--split-back S]

Topics (the generated drive, 320x240):
  /robot/front/image_raw             sensor_msgs/Image rgb8
  /robot/front/image_raw/compressed  sensor_msgs/CompressedImage png (the same frames)
  /robot/mono/image_raw              sensor_msgs/Image mono8 (a grey camera)
  /robot/depth/image_raw             sensor_msgs/Image 16UC1 (not a camera encoding the graph takes)
  /robot/widget                      acme_msgs/msg/Widget (a type installed nowhere)
With --split-back S the bag is two MCAP files, the second S seconds earlier than the first: a
recording whose clock was stepped back between two files.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from seg_core.data.scene.sequences import DrivingSequence

WIDTH, HEIGHT = 320, 240
WIDGET = "acme_msgs/msg/Widget"


def typestore():
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg("string name\nuint32 size\n", WIDGET))
    return store


def image(store, stamp_ns: int, pixels: np.ndarray, encoding: str):
    types = store.types
    sec, nsec = divmod(stamp_ns, 1_000_000_000)
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec),
                                          frame_id="front_camera")
    height, width = pixels.shape[:2]
    return types["sensor_msgs/msg/Image"](header=header, height=height, width=width, encoding=encoding,
                                          is_bigendian=0, step=pixels.nbytes // height,
                                          data=np.ascontiguousarray(pixels).reshape(-1).view(np.uint8))


def write(path: Path, first_frame: int, frames: int, start_ns: int, period_ns: int) -> None:
    store = typestore()
    types = store.types
    seq = DrivingSequence(11, WIDTH, HEIGHT)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype in [
            ("/robot/front/image_raw", "sensor_msgs/msg/Image"),
            ("/robot/front/image_raw/compressed", "sensor_msgs/msg/CompressedImage"),
            ("/robot/mono/image_raw", "sensor_msgs/msg/Image"),
            ("/robot/depth/image_raw", "sensor_msgs/msg/Image"),
            ("/robot/widget", WIDGET),
        ]}
        for i in range(frames):
            t = start_ns + i * period_ns
            rgb = seq.frame(first_frame + i)[0]
            msgs = {
                "/robot/front/image_raw": (image(store, t, rgb, "rgb8"), "sensor_msgs/msg/Image"),
                "/robot/mono/image_raw": (image(store, t, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), "mono8"),
                                          "sensor_msgs/msg/Image"),
                "/robot/depth/image_raw": (image(store, t, np.full((HEIGHT, WIDTH), 1000, np.uint16), "16UC1"),
                                           "sensor_msgs/msg/Image"),
                "/robot/widget": (types[WIDGET](name="gear", size=i), WIDGET),
            }
            png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1]
            header = msgs["/robot/front/image_raw"][0].header
            msgs["/robot/front/image_raw/compressed"] = (
                types["sensor_msgs/msg/CompressedImage"](header=header, format="rgb8; png compressed bgr8",
                                                         data=png.reshape(-1)), "sensor_msgs/msg/CompressedImage")
            for topic, (msg, msgtype) in msgs.items():
                writer.write(conns[topic], t, store.serialize_cdr(msg, msgtype))


def merge(first: Path, second: Path) -> None:
    """Make `first` a two-file bag holding `second`'s file as well (as a split recording is)."""
    meta_path = first / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    extra = yaml.safe_load((second / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    info = meta["rosbag2_bagfile_information"]
    shutil.move(second / extra["relative_file_paths"][0], first / "second.mcap")
    info["relative_file_paths"].append("second.mcap")
    info["files"].append({**extra["files"][0], "path": "second.mcap"})
    info["message_count"] += extra["message_count"]
    for mine, theirs in zip(info["topics_with_message_count"], extra["topics_with_message_count"]):
        mine["message_count"] += theirs["message_count"]
    start = min(info["starting_time"]["nanoseconds_since_epoch"], extra["starting_time"]["nanoseconds_since_epoch"])
    end = max(info["starting_time"]["nanoseconds_since_epoch"] + info["duration"]["nanoseconds"],
              extra["starting_time"]["nanoseconds_since_epoch"] + extra["duration"]["nanoseconds"])
    info["starting_time"]["nanoseconds_since_epoch"], info["duration"]["nanoseconds"] = start, end - start
    meta_path.write_text(yaml.safe_dump(meta))
    shutil.rmtree(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--split-back", type=float, default=0.0)
    args = parser.parse_args()
    start, period = 1_700_000_000 * 10**9, int(1e9 / args.rate)
    write(args.out, 0, args.frames, start, period)
    if args.split_back:
        second = args.out.with_name(args.out.name + "_second")
        write(second, args.frames, args.frames, start - int(args.split_back * 1e9), period)
        merge(args.out, second)


if __name__ == "__main__":
    main()
