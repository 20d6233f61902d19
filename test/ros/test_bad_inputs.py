"""Bad input into every node that takes images or H.264 packets: one clear log line for each kind,
and the node keeps serving (the next good input gets its output).

Each node runs alone in this module's DDS domain, so this test is the only publisher on its
inputs and every injection is deterministic. Each node then gets Ctrl-C twice (a terminal and
ros2 launch each send one): exit 0, no traceback, no error line.
"""
from __future__ import annotations

import io
import os
import signal
import time

import numpy as np
import pytest

from support import Recorder, wait_for

from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from seg_bringup.runner import Graph  # noqa: E402
from seg_core.codec import EncoderConfig, H264Encoder  # noqa: E402
from seg_interfaces.msg import H264Packet  # noqa: E402
from seg_ros import qos  # noqa: E402
from seg_ros.images import array_to_image  # noqa: E402

W, H = 64, 48
SMALL_MODEL = {"input_width": W, "input_height": H, "threads": 1}


def stamp(k: int) -> Header:
    """A current stamp (the arbiter forgets old ones) told apart by k."""
    return Header(frame_id="camera", stamp=Time(sec=int(time.time()), nanosec=k))


def frame(k: int, width: int = W, height: int = H) -> np.ndarray:
    return np.random.default_rng(k).integers(0, 256, (height, width, 3), np.uint8)


def bad_images(k: int) -> list[tuple[str, Image, str]]:
    """(what, message, the log line's text) for each kind of broken image."""
    yuv = array_to_image(frame(k), stamp(k), "rgb8")
    yuv.encoding = "yuv422"
    empty = Image(header=stamp(k), height=0, width=0, encoding="rgb8", step=0, data=b"")
    narrow = array_to_image(frame(k), stamp(k), "rgb8")
    narrow.step = W * 3 - 1
    short = array_to_image(frame(k), stamp(k), "rgb8")
    short.data = short.data[:-100]
    huge = array_to_image(np.zeros((4320, 7680, 3), np.uint8), stamp(k), "rgb8")  # 8K, 100 MB
    return [
        ("wrong encoding", yuv, "unsupported image encoding 'yuv422'"),
        ("zero size", empty, "empty image (0x0)"),
        ("step smaller than a row", narrow, f"image step {W * 3 - 1} is smaller than width*channels {W * 3}"),
        ("data shorter than height x step", short, f"image data has {W * 3 * H - 100} bytes"),
        ("8K", huge, "image 7680x4320 is larger than"),
    ]


def padded(k: int) -> Image:
    """A good image whose rows are padded to an odd step."""
    msg = array_to_image(frame(k), stamp(k), "rgb8")
    msg.step = W * 3 + 1
    msg.data = np.pad(frame(k).reshape(H, W * 3), ((0, 0), (0, 1))).tobytes()
    return msg


def key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def until(publish, done, timeout: float = 30.0, every: float = 1.0) -> bool:
    """Publish (again every `every` s: a frame input keeps only the newest frame, so one published
    while the node is busy can be replaced before it is taken) until done()."""
    waited = 0.0
    while waited < timeout:
        publish()
        if wait_for(done, every):
            return True
        waited += every
    return False


@pytest.fixture
def endpoints(ros_node):
    """Publishers and recorders of the test process, removed when the test ends."""
    made = []

    class Endpoints:
        def publisher(self, msg_type, topic, profile=qos.PUBLISH):
            made.append(ros_node.create_publisher(msg_type, topic, profile))
            return made[-1]

        def recorder(self, msg_type, topic):
            recorder = Recorder(ros_node, msg_type, topic)
            made.append(recorder.sub)
            return recorder

    yield Endpoints()
    for entity in made:
        (ros_node.destroy_publisher if hasattr(entity, "publish") else ros_node.destroy_subscription)(entity)


class Alone:
    """One node of a group running alone, its log, and its Ctrl-C."""

    def __init__(self, group: str, node: str, overrides: dict):
        self.log = io.StringIO()
        self.node = node
        self.graph = Graph([group], {node: overrides}, output=self.log)
        self.graph.start(node)

    def text(self, since: int = 0) -> str:
        return self.log.getvalue()[since:]

    def __enter__(self) -> "Alone":
        return self

    def __exit__(self, *exc) -> None:
        self.graph.stop()

    def ctrl_c_twice(self) -> int:
        mark = len(self.log.getvalue())
        pid = self.graph.processes[self.node].pid
        os.killpg(pid, signal.SIGINT)
        os.killpg(pid, signal.SIGINT)
        code = self.graph.stop(self.node)[self.node]
        after = self.text(mark)
        assert code == 0, f"exit {code}\n{self.text()}"
        assert "Traceback" not in self.text() and "KeyboardInterrupt" not in self.text(), self.text()
        assert not [line for line in after.splitlines() if "[ERROR]" in line], after
        return code


def check_image_node(ros_node, endpoints, group: str, node: str, overrides: dict, out_type, out_topic: str,
                     companion=None):
    """Every bad image is logged and dropped; a good (and a padded) image after each gets its output.
    `companion` = (publisher, publish(header)) of what else the node needs to answer a frame."""
    pub = endpoints.publisher(Image, "/cloud/image_raw" if group == "cloud" else "/camera/image_raw")
    out = endpoints.recorder(out_type, out_topic)
    inputs = [pub] + ([companion[0]] if companion else [])
    with Alone(group, node, overrides) as alone:
        assert wait_for(lambda: all(p.get_subscription_count() >= 1 for p in inputs)
                        and ros_node.count_publishers(out_topic) >= 1, 90), alone.text()
        for k, (what, bad, text) in enumerate(bad_images(1), start=1):
            mark = len(alone.text())
            # published again only after 10 s: the inputs are reliable, and another copy of the
            # 100 MB 8K frame sent while one is on its way only adds to what a busy host must move
            assert until(lambda: pub.publish(bad), lambda: text in alone.text(mark), timeout=40.0, every=10.0), \
                f"{what}: no log line\n{alone.text()}"
            for make in (lambda n: array_to_image(frame(n), stamp(n), "rgb8"), padded):
                sent = set()

                def send():   # a new stamp each time: the arbiter decides each stamp once
                    good = make(10 * k + len(sent))
                    sent.add(key(good.header))
                    if companion:
                        companion[1](good.header)
                    pub.publish(good)

                assert until(send, lambda: sent & out.stamps()), f"after {what}: no output\n{alone.text()}"
        assert not alone.graph.exited()
        alone.ctrl_c_twice()


def test_cloud_segmentation(ros_node, endpoints):
    check_image_node(ros_node, endpoints, "cloud", "segmentation", SMALL_MODEL, Image, "/cloud/segmentation/labels")


def test_edge_segmentation(ros_node, endpoints):
    check_image_node(ros_node, endpoints, "edge", "edge_segmentation", SMALL_MODEL, Image, "/edge/segmentation/labels")


def test_h264_encoder(ros_node, endpoints):
    check_image_node(ros_node, endpoints, "edge", "h264_encoder", {}, H264Packet, "/camera/image_raw/h264")


def test_segmentation_arbiter(ros_node, endpoints):
    edge = endpoints.publisher(Image, "/edge/segmentation/labels")

    def edge_labels(header):
        edge.publish(array_to_image(np.zeros((H, W), np.uint8), header, "mono8"))

    check_image_node(ros_node, endpoints, "edge", "segmentation_arbiter", {}, Image, "/segmentation/labels",
                     (edge, edge_labels))


def damaged_packets(stream: list, count: int, seed: int = 3):
    """Random bytes, truncated and bit-flipped copies of real packets, keyframe flag at random."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        source = stream[int(rng.integers(len(stream)))].data
        if i % 3 == 0:
            data = rng.integers(0, 256, int(rng.integers(0, 3000)), np.uint8).tobytes()
        elif i % 3 == 1:
            data = source[:int(rng.integers(0, len(source)))]
        else:
            flipped = bytearray(source)
            for bit in rng.integers(0, 8 * len(flipped), 8):
                flipped[bit // 8] ^= 1 << (bit % 8)
            data = bytes(flipped)
        yield H264Packet(header=stamp(5000 + i), width=W, height=H, encoding="h264;yuv420p;rgb8;rgb8",
                         pts=int(rng.integers(0, 1000)), flags=int(rng.integers(2)), data=data)


def test_h264_decoder_survives_a_thousand_damaged_packets(ros_node, endpoints):
    encoder = H264Encoder(W, H, EncoderConfig(gop=10))
    stream = [encoder.encode(frame(k)) for k in range(30)]
    pub = endpoints.publisher(H264Packet, "/camera/image_raw/h264", qos.PACKETS)
    out = endpoints.recorder(Image, "/cloud/image_raw")
    with Alone("cloud", "h264_decoder", {}) as alone:
        assert wait_for(lambda: pub.get_subscription_count() >= 1 and ros_node.count_publishers("/cloud/image_raw"),
                        60), alone.text()
        for packet in damaged_packets(stream, 1000):
            pub.publish(packet)
        assert wait_for(lambda: "requesting a keyframe" in alone.text(), 30), alone.text()
        good = [H264Packet(header=stamp(9000 + k), width=W, height=H, encoding="h264;yuv420p;rgb8;rgb8",
                           pts=100_000 + k, flags=H264Packet.FLAG_KEYFRAME if p.keyframe else 0, data=p.data)
                for k, p in enumerate(stream[10:20])]   # a keyframe and its 9 P-frames
        for packet in good:
            pub.publish(packet)
        assert wait_for(lambda: {key(p.header) for p in good} <= out.stamps(), 30), alone.text()
        assert not alone.graph.exited()
        alone.ctrl_c_twice()


@pytest.mark.parametrize("group,node", [("edge", "camera"), ("edge", "link_monitor"),
                                        ("cloud", "link_probe_responder")])
def test_ctrl_c_twice_ends_the_other_nodes_cleanly(ros_node, group, node):
    with Alone(group, node, {}) as alone:
        assert wait_for(lambda: "[INFO]" in alone.text(), 60), alone.text()
        alone.ctrl_c_twice()
