"""Bag-driven cloud benchmark, the way ros2_benchmark measures a graph: frames from a bag, as fast as it takes them.

The bag's frames (H.264 packets from a recording, or a robot's sensor_msgs/Image topic with
--camera-topic) are loaded into memory first, then published from this process to the cloud nodes
(h264_decoder, segmentation), which run as separate processes over Fast DDS with their parameter
file (config/cloud.yaml, changed with --set). With --rate 0 (the default) at most --window frames
are in flight: the next frame goes out when a result comes back (or --timeout passes), so the cloud
sets the pace; with --rate HZ frames go out at that fixed rate (ros2_benchmark's fixed-rate mode).

Prints JSON (also written to OUT/bench_bag.json): frames sent, labelled and dropped (sent but never
labelled), fps, end-to-end latency percentiles (published here -> labels received here), CPU of each
cloud node (% of one core, from /proc), the load average around the run.

    source scripts/env.sh && python benchmarks/bench_bag.py --bag out/bags/run1 [--window 2] [--frames 300]
    python benchmarks/bench_bag.py --bag my_robot_bag --camera-topic /zed/left/image_raw
Without --bag it first writes one: --frames of the generated drive through the H.264 encoder.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from tqdm import tqdm

from bench_bridge import cpu_seconds
from seg_bag.bag_file import BagWriter, open_bag
from seg_bag.ros_qos import bag_qos
from seg_bringup.demo import segmentation_model
from seg_bringup.graph import CAMERA_PACKETS, CLOUD_IMAGE
from seg_bringup.runner import Graph, parse_overrides
from seg_interfaces.msg import H264Packet
from seg_ros import qos

CLOUD_NODES = ["h264_decoder", "segmentation"]
WARMUP_FRAMES = 5


def write_drive_bag(path: Path, frames: int, width: int, height: int, rate: float) -> Path:
    """A bag of the generated drive as the encoder would publish it: /camera/image_raw/h264 packets."""
    from seg_core.codec import H264Encoder
    from seg_core.data.scene.sequences import DrivingSequence
    seq = DrivingSequence(7, width, height)
    encoder = H264Encoder(width, height)
    bag = BagWriter(path)
    bag.add_topic(CAMERA_PACKETS, "seg_interfaces/msg/H264Packet", [bag_qos(qos.PUBLISH)])
    start = time.time_ns()
    for i in tqdm(range(frames), desc="bench: writing the drive bag"):
        stamp = start + int(i * 1e9 / rate)
        frame = encoder.encode(seq.frame(i)[0])
        msg = H264Packet(width=width, height=height, encoding="h264;yuv420p;rgb8;rgb8", pts=frame.pts,
                         flags=H264Packet.FLAG_KEYFRAME if frame.keyframe else 0, data=frame.data)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        msg.header.frame_id = "camera"
        bag.write(CAMERA_PACKETS, stamp, serialize_message(msg))
    bag.close()
    return path


def load_frames(bag_path: Path, camera_topic: str, limit: int) -> tuple[str, type, list[tuple[int, bytes]]]:
    """(topic to publish on, its type, [(camera stamp ns, serialized message)]) from the bag."""
    reader = open_bag(bag_path)
    try:
        topic = camera_topic or CAMERA_PACKETS
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            raise SystemExit(f"bench: topic {topic} is not in {bag_path}; "
                             f"it has {', '.join(sorted(c.topic for c in reader.connections))}")
        msg_type = Image if camera_topic else H264Packet
        frames = []
        for _, _, data in reader.messages(conns):
            msg = deserialize_message(bytes(data), msg_type)
            if not camera_topic and not frames and not msg.flags & H264Packet.FLAG_KEYFRAME:
                continue                        # a decoder can start only at a keyframe
            frames.append((msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, bytes(data)))
            if len(frames) >= limit:
                break
    finally:
        reader.close()
    if not frames:
        raise SystemExit(f"bench: no usable frames on {topic} in {bag_path}")
    return (CLOUD_IMAGE if camera_topic else CAMERA_PACKETS), msg_type, frames


class Bench:
    """Publishes the frames and keeps when each was sent and when its labels came back."""

    def __init__(self, topic: str, msg_type: type):
        rclpy.init()
        self.node = rclpy.create_node("bench_bag")
        self.pub = self.node.create_publisher(msg_type, topic, qos.PACKETS)
        self.sent: dict[int, float] = {}
        self.labelled: dict[int, float] = {}
        self.arrived = threading.Condition()
        self.timeout = 5.0
        self.node.create_subscription(Image, "/cloud/segmentation/labels", self._on_labels, qos.PACKETS)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _on_labels(self, msg: Image) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.arrived:
            self.labelled.setdefault(stamp, time.monotonic())
            self.arrived.notify_all()

    def in_flight(self) -> int:
        return sum(1 for s in self.sent if s not in self.labelled and time.monotonic() - self.sent[s] < self.timeout)

    def run(self, frames: list[tuple[int, bytes]], window: int, rate: float, timeout: float) -> None:
        self.timeout = timeout
        period = 1.0 / rate if rate > 0 else 0.0
        next_at = time.monotonic()
        for stamp, data in tqdm(frames, desc="bench: playing"):
            if rate > 0:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += period
            else:
                with self.arrived:
                    self.arrived.wait_for(lambda: self.in_flight() < window, timeout)
            self.sent[stamp] = time.monotonic()
            self.pub.publish(data)
        with self.arrived:       # the last results
            self.arrived.wait_for(lambda: self.in_flight() == 0, timeout)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown()


def summarize(bench: Bench, frames: list) -> dict:
    """Counts, fps and latency over the frames after the warm-up (the first model runs are slow)."""
    measured = [s for s, _ in frames[WARMUP_FRAMES:]]
    done = [s for s in measured if s in bench.labelled]
    latency = np.array([(bench.labelled[s] - bench.sent[s]) * 1000 for s in done])
    pct = {f"p{p}": round(float(np.percentile(latency, p)), 1) for p in (50, 90, 95, 99)} if done else {}
    span = max((bench.labelled[s] for s in done), default=0.0) - bench.sent[measured[0]] if measured else 0.0
    return {
        "frames_sent": len(measured), "frames_labelled": len(done), "dropped_frames": len(measured) - len(done),
        "fps": round(len(done) / span, 2) if span > 0 else None,
        "latency_ms": {**pct, "mean": round(float(latency.mean()), 1) if done else None,
                       "max": round(float(latency.max()), 1) if done else None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bag", type=Path, help="bag to play; default: write one of the generated drive")
    parser.add_argument("--camera-topic", default="", help="play this sensor_msgs/Image topic to the cloud instead "
                                                           "of the H.264 packets")
    parser.add_argument("--frames", type=int, default=200, help="most frames to play (and to write without --bag)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--window", type=int, default=2, help="frames in flight with --rate 0 (2: decode overlaps "
                                                              "inference; more only fills the newest-frame queue)")
    parser.add_argument("--rate", type=float, default=0.0, help="fixed publishing rate (Hz); 0: as fast as the "
                                                                "cloud takes frames")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds after which a frame counts as dropped")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    parser.add_argument("--out", type=Path, default=Path("out/bench_bag"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bag = args.bag
    if bag is None:
        bag = args.out / "drive"
        shutil.rmtree(bag, ignore_errors=True)
        write_drive_bag(bag, args.frames, args.width, args.height, 30.0)
    topic, msg_type, frames = load_frames(bag, args.camera_topic, args.frames)
    overrides = parse_overrides(args.set)
    graph = Graph(["cloud"], overrides, output=open(args.out / "nodes.log", "w"))
    bench = Bench(topic, msg_type)
    load_before = os.getloadavg()
    try:
        for name in CLOUD_NODES:
            graph.start(name)
        print("bench: waiting for the cloud nodes ...", flush=True)
        deadline = time.monotonic() + 180
        while bench.node.count_subscribers(CLOUD_IMAGE) < 1 or bench.node.count_subscribers(CAMERA_PACKETS) < 1:
            if time.monotonic() > deadline or graph.exited():
                raise SystemExit(f"bench: the cloud nodes did not come up; see {args.out / 'nodes.log'}")
            time.sleep(0.2)
        cpu0 = {n: cpu_seconds(graph.processes[n].pid) for n in CLOUD_NODES}
        start = time.monotonic()
        bench.run(frames, args.window, args.rate, args.timeout)
        elapsed = time.monotonic() - start
        cpu = {n: round(100 * (cpu_seconds(graph.processes[n].pid) - cpu0[n]) / elapsed, 1) for n in CLOUD_NODES}
    finally:
        bench.close()
        graph.stop()
    result = {
        "config": {"bag": str(bag), "topic": topic, "frames": len(frames), "window": args.window, "rate": args.rate,
                   "timeout_s": args.timeout, "warmup_frames": WARMUP_FRAMES, "overrides": overrides,
                   "cpus": os.cpu_count()},
        "model": segmentation_model(overrides),
        **summarize(bench, frames),
        "cpu_percent_of_one_core": cpu,
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
    }
    (args.out / "bench_bag.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
