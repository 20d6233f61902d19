"""Zenoh bridge benchmark: one-way latency and throughput of H264Packet messages through the bridge pair.

    publisher (domain A) -> edge_bridge -> Zenoh tcp/127.0.0.1 -> cloud_bridge -> subscriber (domain B)

Both bridges run as separate processes with the product's edge_bridge.yaml / cloud_bridge.yaml
(peer mode, the cloud one listening); this process publishes on one domain and receives on the other,
so latency is one clock. Phases: each --sizes at --rate for --duration s, then a flood (back-to-back
publishing) of the largest size for --flood s. Prints JSON.

    source scripts/env.sh && ROS_DOMAIN_ID=180 python benchmarks/bench_bridge.py
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from ament_index_python.packages import get_package_prefix, get_package_share_directory
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Header

from seg_interfaces.msg import H264Packet
from seg_ros import qos

TOPIC = "/camera/image_raw/h264"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bridge(side: str, domain: int, overrides: dict, tmp: Path) -> subprocess.Popen:
    share = Path(get_package_share_directory("seg_bringup")) / "config"
    params = yaml.safe_load((share / f"{side}_bridge.yaml").read_text())[f"{side}_bridge"]["ros__parameters"]
    params.update(overrides)
    path = tmp / f"{side}.yaml"
    path.write_text(yaml.safe_dump({f"{side}_bridge": {"ros__parameters": params}}))
    exe = Path(get_package_prefix("seg_bridge")) / "lib" / "seg_bridge" / "zenoh_bridge"
    return subprocess.Popen([str(exe), "--ros-args", "-r", f"__node:={side}_bridge", "--params-file", str(path)],
                            env={**os.environ, "ROS_DOMAIN_ID": str(domain)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Side:
    def __init__(self, name: str, domain: int):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node(f"bench_{name}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


class Receiver:
    """Arrival time (ns, system clock) and size of each packet, by pts."""

    def __init__(self, side: Side):
        self.arrivals: dict[int, tuple[int, int]] = {}
        side.node.create_subscription(H264Packet, TOPIC, self._on_packet, qos.PACKETS)

    def _on_packet(self, msg: H264Packet) -> None:
        now = time.time_ns()
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.arrivals[msg.pts] = (now - sent, len(msg.data))


def packet(pts: int, payload: bytes) -> H264Packet:
    now = time.time_ns()
    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = divmod(now, 1_000_000_000)
    return H264Packet(header=header, width=640, height=480, encoding="h264;yuv420p;rgb8;rgb8", pts=pts,
                      flags=0, data=payload)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_phase(pub, receiver: Receiver, bridges: list[subprocess.Popen], size: int, rate: float | None,
              seconds: float, first_pts: int) -> dict:
    payload = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    cpu0 = [cpu_seconds(p.pid) for p in bridges]
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        pub.publish(packet(first_pts + sent, payload))
        sent += 1
        if rate:
            next_at = start + sent / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    publish_s = time.monotonic() - start
    time.sleep(1.0)  # let the tail arrive
    cpu = [round((cpu_seconds(p.pid) - c0) / (publish_s + 1.0), 3) for p, c0 in zip(bridges, cpu0)]
    got = {pts: v for pts, v in receiver.arrivals.items() if first_pts <= pts < first_pts + sent}
    lat_ms = [ns / 1e6 for ns, _ in got.values()]
    received_bytes = sum(n for _, n in got.values())
    return {
        "size_bytes": size, "rate_hz": rate or "flood", "seconds": round(publish_s, 2),
        "sent": sent, "received": len(got), "lost": sent - len(got),
        "received_msgs_per_s": round(len(got) / publish_s, 1),
        "throughput_mbit_s": round(received_bytes * 8 / publish_s / 1e6, 2),
        "latency_ms": {
            "median": round(statistics.median(lat_ms), 2) if lat_ms else None,
            "mean": round(statistics.fmean(lat_ms), 2) if lat_ms else None,
            "p95": round(percentile(lat_ms, 95), 2), "p99": round(percentile(lat_ms, 99), 2),
            "max": round(max(lat_ms), 2) if lat_ms else None,
        },
        "bridge_cpu_cores": {"edge": cpu[0], "cloud": cpu[1]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000],
                        help="packet payload sizes in bytes (default: a P-frame and a large keyframe)")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per size at --rate")
    parser.add_argument("--flood", type=float, default=3.0, help="seconds of back-to-back publishing; 0: skip")
    args = parser.parse_args()

    domain_edge = int(os.environ.get("ROS_DOMAIN_ID", "180"))
    domain_cloud = domain_edge + 1
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = start_bridge("cloud", domain_cloud, {"listen": [f"tcp/127.0.0.1:{port}"], "stats_period": 0.0},
                             Path(tmp))
        edge = start_bridge("edge", domain_edge, {"connect": [f"tcp/127.0.0.1:{port}"], "stats_period": 0.0},
                            Path(tmp))
        edge_side, cloud_side = Side("edge", domain_edge), Side("cloud", domain_cloud)
        try:
            receiver = Receiver(cloud_side)
            pub = edge_side.node.create_publisher(H264Packet, TOPIC, qos.PUBLISH)
            deadline, pts = time.monotonic() + 30, 0
            while not receiver.arrivals and time.monotonic() < deadline:  # discovery and link up
                pub.publish(packet(pts, b"warmup"))
                pts += 1
                time.sleep(0.1)
            if not receiver.arrivals:
                sys.exit("bench: nothing came through the bridge in 30 s")
            time.sleep(1.0)
            phases, first = [], 1_000_000
            for size in args.sizes:
                print(f"bench: {size} B at {args.rate:g} Hz for {args.duration:g} s ...", file=sys.stderr, flush=True)
                phases.append(run_phase(pub, receiver, [edge, cloud], size, args.rate, args.duration, first))
                first += 1_000_000
            if args.flood > 0:
                size = max(args.sizes)
                print(f"bench: flood of {size} B for {args.flood:g} s ...", file=sys.stderr, flush=True)
                phases.append(run_phase(pub, receiver, [edge, cloud], size, None, args.flood, first))
        finally:
            for proc in (edge, cloud):
                proc.send_signal(2)
            for proc in (edge, cloud):
                proc.wait(10)
            edge_side.close()
            cloud_side.close()
    result = {
        "path": "publisher -> DDS -> edge_bridge -> Zenoh tcp/127.0.0.1 -> cloud_bridge -> DDS -> subscriber",
        "route": "/camera/image_raw/h264 (best_effort, congestion control drop, as in edge_bridge.yaml)",
        "host": {"cpus": os.cpu_count(), "rmw": os.environ.get("RMW_IMPLEMENTATION", "")},
        "phases": phases,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
