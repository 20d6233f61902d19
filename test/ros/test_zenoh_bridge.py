"""The Zenoh bridge pair as separate processes: edge bridge on one DDS domain, cloud bridge on another.

The test process has one rclpy context per domain ("edge" side A, "cloud" side B). Nothing can reach
the other domain except through the two bridges and their Zenoh link on 127.0.0.1.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from support import DomainLease, wait_for

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from ament_index_python.packages import get_package_prefix, get_package_share_directory  # noqa: E402
from sensor_msgs.msg import CompressedImage  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402

from seg_interfaces.msg import H264Packet, KeyframeRequest, LabelInfo, VisionClass  # noqa: E402
from seg_bringup.runner import ORPHAN_GUARD  # noqa: E402
from seg_ros import qos  # noqa: E402

RATE_TOPIC = "/bridge_test/rate_limited"
RATE_HZ = 5.0
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bridge_exe() -> str:
    return str(Path(get_package_prefix("seg_bridge")) / "lib" / "seg_bridge" / "zenoh_bridge")


def product_params(side: str) -> dict:
    path = Path(get_package_share_directory("seg_bringup")) / "config" / f"{side}_bridge.yaml"
    return yaml.safe_load(path.read_text())[f"{side}_bridge"]["ros__parameters"]


class Bridge:
    """One bridge process; its log lines are collected for assertions."""

    def __init__(self, side: str, params: dict, domain: int, params_dir: Path):
        self.side, self.name, self.domain = side, f"{side}_bridge", domain
        self.params_file = params_dir / f"{self.name}.yaml"
        self.params_file.write_text(yaml.safe_dump({self.name: {"ros__parameters": params}}))
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Bridge":
        env = {**os.environ, "ROS_DOMAIN_ID": str(self.domain), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(ORPHAN_GUARD +
            [bridge_exe(), "--ros-args", "-r", f"__node:={self.name}", "--params-file", str(self.params_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self

    def _pump(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line.rstrip())

    def mark(self) -> int:
        return len(self.lines)

    def log(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def wait_log(self, text: str, timeout: float, since: int = 0) -> bool:
        return wait_for(lambda: text in self.log(since), timeout)

    def send(self, sig) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self, sig=signal.SIGINT, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.send(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            return self.proc.wait()


class Side:
    """A node of the test process on one DDS domain, spinning in its own thread."""

    def __init__(self, name: str, domain: int):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node(f"bridge_test_{name}_{os.getpid()}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def record(self, msg_type, topic: str, profile=RELIABLE) -> list:
        got: list = []
        self.node.create_subscription(msg_type, topic, got.append, profile)
        return got

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def packet(pts: int, size: int) -> H264Packet:
    data = np.random.default_rng(pts).integers(0, 256, size, dtype=np.uint8).tobytes()
    return H264Packet(header=Header(frame_id="camera"), width=640, height=480, encoding="h264;yuv420p;rgb8;rgb8",
                      pts=pts, flags=H264Packet.FLAG_KEYFRAME if pts % 30 == 0 else 0, data=data)


def publish_until(pub, make, received: list, timeout: float, period: float = 0.1) -> bool:
    """Publish make(i) every `period` until something arrives (discovery and link are up)."""
    deadline, i = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        pub.publish(make(i))
        i += 1
        if wait_for(lambda: received, period):
            return True
    return False


LABEL_INFO = LabelInfo(header=Header(frame_id="camera"), threshold=0.0,
                       class_map=[VisionClass(class_id=i, class_name=n) for i, n in enumerate(["road", "sidewalk"])])


@pytest.fixture(scope="module")
def domains(ros_domain):
    """The edge side's DDS domain (this module's) and a second one for the cloud side."""
    cloud = DomainLease()
    yield {"edge": ros_domain.domain, "cloud": cloud.domain}
    cloud.release()


@pytest.fixture(scope="module")
def link(tmp_path_factory, domains):
    tmp = tmp_path_factory.mktemp("bridges")
    port = free_port()
    edge_params = product_params("edge")
    cloud_params = product_params("cloud")
    edge_params.update(connect=[f"tcp/127.0.0.1:{port}"], stats_period=1.0,
                       outgoing=edge_params["outgoing"] + [f"{RATE_TOPIC} std_msgs/msg/String rate={RATE_HZ:g}"])
    cloud_params.update(listen=[f"tcp/127.0.0.1:{port}"], stats_period=1.0,
                        incoming=cloud_params["incoming"] + [f"{RATE_TOPIC} std_msgs/msg/String"])
    edge, cloud = Side("edge", domains["edge"]), Side("cloud", domains["cloud"])
    # The class list is published once on the cloud side before the edge bridge exists.
    info_pub = cloud.node.create_publisher(LabelInfo, "/cloud/segmentation/label_info", qos.LATCHED)
    info_pub.publish(LABEL_INFO)
    bridges = {"cloud": Bridge("cloud", cloud_params, domains["cloud"], tmp).start()}
    assert bridges["cloud"].wait_log("Zenoh peer session", 20), bridges["cloud"].log()
    time.sleep(1.0)  # the cloud bridge's transient-local reader picks the class list up
    bridges["edge"] = Bridge("edge", edge_params, domains["edge"], tmp).start()
    assert bridges["edge"].wait_log("link up", 20), bridges["edge"].log()
    yield {"edge": edge, "cloud": cloud, "bridges": bridges, "info_pub": info_pub}
    codes = {name: b.stop() for name, b in bridges.items()}
    edge.close()
    cloud.close()
    assert codes == {"cloud": 0, "edge": 0}, {n: b.log() for n, b in bridges.items()}
    assert "Traceback" not in bridges["edge"].log() + bridges["cloud"].log()


def test_h264_packets_cross_intact_edge_to_cloud(link):
    edge, cloud = link["edge"], link["cloud"]
    got = cloud.record(H264Packet, "/camera/image_raw/h264", qos.PACKETS)
    pub = edge.node.create_publisher(H264Packet, "/camera/image_raw/h264", qos.PUBLISH)
    assert publish_until(pub, lambda i: packet(10_000 + i, 100), got, 15), link["bridges"]["edge"].log()
    # A 30 Hz stream. The video route is best_effort (drop under congestion), so on a busy host a
    # packet may be dropped; whatever arrives must be intact and in order.
    sent = {pts: packet(pts, 250_000 if pts % 10 == 0 else 20_000) for pts in range(30)}
    got.clear()
    for msg in sent.values():
        pub.publish(msg)
        time.sleep(1 / 30)
    assert wait_for(lambda: len(got) >= len(sent), 5) or len(got) >= 0.8 * len(sent), \
        f"{len(got)} of {len(sent)} arrived\n{link['bridges']['edge'].log()}"
    assert [m.pts for m in got] == sorted(m.pts for m in got)
    assert all(m == sent[m.pts] for m in got), "a packet changed on the way"
    # Large packets one by one (no congestion): every one arrives, byte for byte.
    for pts in (500, 501, 502):
        large = packet(pts, 300_000)
        pub.publish(large)
        assert wait_for(lambda: got[-1].pts == pts, 5), f"{pts} did not arrive"
        assert got[-1] == large


def test_labels_and_keyframe_requests_cross_cloud_to_edge(link):
    edge, cloud = link["edge"], link["cloud"]
    labels = edge.record(CompressedImage, "/cloud/segmentation/labels/compressed")
    requests = edge.record(KeyframeRequest, "/camera/image_raw/h264/keyframe_request")
    label_pub = cloud.node.create_publisher(CompressedImage, "/cloud/segmentation/labels/compressed", qos.PUBLISH)
    request_pub = cloud.node.create_publisher(KeyframeRequest, "/camera/image_raw/h264/keyframe_request",
                                              qos.PUBLISH)
    rng = np.random.default_rng(1)

    def label(i):
        return CompressedImage(header=Header(frame_id=f"camera{i}"), format="mono8; png compressed",
                               data=rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())

    assert publish_until(label_pub, label, labels, 15), link["bridges"]["cloud"].log()
    sent = [label(i) for i in range(5)]
    labels.clear()
    for msg in sent:
        label_pub.publish(msg)
    request = KeyframeRequest(header=Header(frame_id="h264_decoder"), reason="late join")
    assert publish_until(request_pub, lambda i: request, requests, 10)
    assert wait_for(lambda: len(labels) >= len(sent), 10)
    assert labels[:len(sent)] == sent
    assert requests[0] == request


def test_latched_class_list_reaches_a_late_subscriber_through_a_late_bridge(link):
    # The edge bridge started after the class list was published: it fetched it from the cloud bridge.
    got = link["edge"].record(LabelInfo, "/cloud/segmentation/label_info", qos.LATCHED)
    assert wait_for(lambda: got, 10), link["bridges"]["edge"].log()
    assert got[0] == LABEL_INFO
    time.sleep(0.5)
    assert len(got) == 1


def test_rate_limit_drops_the_excess(link):
    edge, cloud = link["edge"], link["cloud"]
    got = cloud.record(String, RATE_TOPIC)
    pub = edge.node.create_publisher(String, RATE_TOPIC, qos.PUBLISH)
    assert publish_until(pub, lambda i: String(data="warmup"), got, 15)
    time.sleep(0.5)
    got.clear()
    mark = link["bridges"]["edge"].mark()
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < 2.0:  # 50 Hz for 2 s
        pub.publish(String(data=f"m{sent}"))
        sent += 1
        time.sleep(0.02)
    time.sleep(0.5)
    expected = RATE_HZ * (time.monotonic() - 0.5 - start)
    assert sent >= 80
    assert expected - 3 <= len(got) <= expected + 2, f"{len(got)} passed, expected ~{expected:.0f}"
    assert link["bridges"]["edge"].wait_log("by rate limit", 3, since=mark)


def test_stalled_and_killed_link_recovers_and_the_other_bridge_keeps_running(link):
    edge, cloud, bridges = link["edge"], link["cloud"], link["bridges"]
    got = cloud.record(H264Packet, "/camera/image_raw/h264", qos.PACKETS)
    rate_got = cloud.record(String, RATE_TOPIC)
    video = edge.node.create_publisher(H264Packet, "/camera/image_raw/h264", qos.PUBLISH)
    small = edge.node.create_publisher(String, RATE_TOPIC, qos.PUBLISH)
    stop = threading.Event()

    def stream():  # 30 Hz of 200 kB packets plus a 30 Hz small topic, all along
        pts = 100_000
        while not stop.is_set():
            video.publish(packet(pts, 200_000))
            small.publish(String(data=str(pts)))
            pts += 1
            time.sleep(1 / 30)

    threading.Thread(target=stream, daemon=True).start()
    try:
        assert wait_for(lambda: got, 15)
        # Stall: the cloud bridge stops reading (no RST, the link looks alive). The edge bridge's DDS
        # callbacks keep running: its rate limiter keeps counting drops, and its stats keep coming.
        mark = bridges["edge"].mark()
        bridges["cloud"].send(signal.SIGSTOP)
        time.sleep(3.0)
        stalled_log = bridges["edge"].log(mark)
        bridges["cloud"].send(signal.SIGCONT)
        rate_drops = re.findall(rf"out {RATE_TOPIC}: .*?\), dropped (\d+) by rate limit", stalled_log)
        assert len([n for n in rate_drops if int(n) > 0]) >= 2, stalled_log
        t_resume = time.monotonic()
        n = len(got)
        assert wait_for(lambda: len(got) > n + 10, 15), "video did not resume after the stall"
        resumed_after_stall = time.monotonic() - t_resume

        # Crash: the cloud bridge dies and comes back on the same port.
        mark = bridges["edge"].mark()
        bridges["cloud"].stop(signal.SIGKILL)
        assert bridges["edge"].wait_log("link down", 10, since=mark)
        time.sleep(1.0)
        assert bridges["edge"].proc.poll() is None, bridges["edge"].log(mark)
        bridges["cloud"].start()
        t_restart = time.monotonic()
        n, m = len(got), len(rate_got)
        assert wait_for(lambda: len(got) > n + 10 and len(rate_got) > m, 20), bridges["edge"].log(mark)
        print(f"resumed {resumed_after_stall:.1f} s after the stall, {time.monotonic() - t_restart:.1f} s "
              "after the restart")
        assert bridges["edge"].proc.poll() is None
        # Up again (a transition soon after "link down" is reported by the throttled summary line).
        assert bridges["edge"].wait_log("open links: peer", 10, since=mark), bridges["edge"].log(mark)
        # Late subscribers on the edge still get the class list.
        late = link["edge"].record(LabelInfo, "/cloud/segmentation/label_info", qos.LATCHED)
        assert wait_for(lambda: late, 10)
    finally:
        stop.set()
    assert "Traceback" not in bridges["edge"].log()


def test_edge_bridge_restart_fetches_the_class_list_again(link):
    bridges = link["bridges"]
    assert bridges["edge"].stop() == 0
    bridges["edge"].start()
    assert bridges["edge"].wait_log("/segmentation/label_info: remote publisher on bridge", 20)
    got = link["edge"].record(LabelInfo, "/cloud/segmentation/label_info", qos.LATCHED)
    assert wait_for(lambda: got, 10), bridges["edge"].log()
    assert got[0] == LABEL_INFO


@pytest.mark.parametrize("params,message", [
    ({"outgoing": ["/a foo_msgs/msg/Bar"]},
     "outgoing /a: unknown message type 'foo_msgs/msg/Bar': no Python package 'foo_msgs'"),
    ({"outgoing": ["/a std_msgs/msg/String rate=0"]}, "outgoing[0] '/a std_msgs/msg/String rate=0': rate '0'"),
    ({"outgoing": ["/a std_msgs/msg/String", "/a std_msgs/msg/String"]},
     "topic /a is already listed in outgoing[0]"),
    ({"outgoing": ["/a std_msgs/msg/String"], "incoming": ["/a std_msgs/msg/String"]},
     "topic /a is both outgoing and incoming"),
    ({"mode": "client", "incoming": ["/a std_msgs/msg/String"]}, "mode client needs connect endpoints"),
    ({"zenoh_config": "/nonexistent/zenoh.json5", "incoming": ["/a std_msgs/msg/String"]},
     "zenoh_config file /nonexistent/zenoh.json5 not found"),
    ({}, "no topics to bridge"),
])
def test_bad_parameters_exit_with_one_clear_line(tmp_path, domains, params, message):
    bridge = Bridge("edge", {"stats_period": 1.0, **params}, domains["edge"], tmp_path)
    proc = subprocess.run([bridge_exe(), "--ros-args", "-r", "__node:=edge_bridge", "--params-file",
                           str(bridge.params_file)], env={**os.environ, "ROS_DOMAIN_ID": str(domains["edge"])},
                          capture_output=True, text=True, timeout=30)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    fatal = [line for line in out.splitlines() if "cannot start" in line]
    assert len(fatal) == 1 and message in fatal[0], out
    assert "Traceback" not in out


def test_zenoh_errors_exit_with_one_clear_line(tmp_path, domains):
    broken = tmp_path / "zenoh.json5"
    broken.write_text("{ mode: peer")  # unquoted string, unclosed
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for params, message in [
            ({"zenoh_config": str(broken)}, f"zenoh_config {broken}: "),
            ({"listen": [f"tcp/127.0.0.1:{port}"]}, "Address already in use"),
        ]:
            bridge = Bridge("cloud", {"incoming": ["/a std_msgs/msg/String"], **params}, domains["cloud"], tmp_path)
            proc = subprocess.run([bridge_exe(), "--ros-args", "-r", "__node:=cloud_bridge", "--params-file",
                                   str(bridge.params_file)], env={**os.environ, "ROS_DOMAIN_ID": str(domains["cloud"])},
                                  capture_output=True, text=True, timeout=30)
            out = proc.stdout + proc.stderr
            fatal = [line for line in out.splitlines() if "cannot start" in line]
            assert proc.returncode == 2 and len(fatal) == 1 and message in fatal[0], out
            assert "Traceback" not in out and ".rs:" not in fatal[0]
