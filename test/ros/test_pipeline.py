"""Camera, encoder, decoder and cloud segmentation nodes as separate processes over Fast DDS."""
from __future__ import annotations

import io
import subprocess
import time

import numpy as np
import pytest

from conftest import wait_for

from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from seg_bringup.runner import Graph, default_params_file, node_command  # noqa: E402
from seg_bringup.graph import group_nodes  # noqa: E402
from seg_interfaces.msg import H264Packet, LabelInfo  # noqa: E402
from seg_ros import qos  # noqa: E402
from seg_ros.images import array_to_image  # noqa: E402

W, H = 320, 240
OVERRIDES = {
    "camera": {"width": W, "height": H, "rate": 10.0},
    # No periodic keyframe during the test: decoding a late start or after corruption needs a request.
    "h264_encoder": {"gop": 100000},
    "segmentation": {"threads": 1},
}


class Recorder:
    """Keeps every message of a topic with its arrival time."""

    def __init__(self, node, msg_type, topic, profile=qos.PACKETS):
        self.items: list[tuple[float, object]] = []
        self.sub = node.create_subscription(msg_type, topic, lambda m: self.items.append((time.monotonic(), m)),
                                            profile)

    def stamps(self) -> set[tuple[int, int]]:
        return {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in list(self.items)}

    def since(self, t0: float) -> list:
        return [m for t, m in list(self.items) if t >= t0]


@pytest.fixture(scope="module")
def pipeline(ros_node):
    log = io.StringIO()
    rec = {name: Recorder(ros_node, Image, topic) for name, topic in [
        ("camera", "/camera/image_raw"), ("decoded", "/cloud/image_raw"), ("labels", "/cloud/segmentation/labels"),
        ("mask", "/cloud/segmentation/color_mask"), ("overlay", "/cloud/segmentation/overlay")]}
    graph = Graph(["edge", "cloud"], OVERRIDES, output=log)
    try:
        graph.start("camera")
        graph.start("h264_encoder")
        assert wait_for(lambda: len(rec["camera"].items) >= 20, 30), "camera published nothing"
        cloud_start = time.monotonic()
        graph.start("h264_decoder")  # a late joiner: the stream is ~2 s past its only keyframe
        graph.start("segmentation")
        assert wait_for(lambda: rec["decoded"].items, 30), f"late decoder never decoded a frame\n{log.getvalue()}"
        first_decoded = rec["decoded"].items[0][0] - cloud_start
        assert wait_for(lambda: len(rec["labels"].items) >= 5, 120), f"no labels\n{log.getvalue()}"
    except BaseException:
        graph.stop()
        raise
    yield {"graph": graph, "rec": rec, "log": log, "first_decoded_s": first_decoded}
    codes = graph.stop()
    assert all(code in (0, -2) for code in codes.values()), f"exit codes {codes}\n{log.getvalue()}"


def test_late_decoder_gets_a_keyframe_on_request(pipeline):
    log = pipeline["log"].getvalue()
    assert "requesting a keyframe" in log
    assert "keyframe requested by" in log
    assert pipeline["first_decoded_s"] < 15.0


def test_outputs_have_encodings_sizes_and_camera_stamps(pipeline):
    rec = pipeline["rec"]
    for name, encoding in [("labels", "mono8"), ("mask", "rgb8"), ("overlay", "rgb8")]:
        assert wait_for(lambda: rec[name].items, 10), name
        msgs = [m for _, m in rec[name].items]
        assert {m.encoding for m in msgs} == {encoding}, name
        assert {(m.width, m.height) for m in msgs} == {(W, H)}, name
        assert {m.header.frame_id for m in msgs} == {"camera"}, name
        assert rec[name].stamps() <= rec["camera"].stamps(), f"{name} stamps not from camera images"
    labels = np.frombuffer(rec["labels"].items[-1][1].data, np.uint8)
    assert labels.max() < 19 or 255 in labels
    assert rec["labels"].stamps() & rec["mask"].stamps() & rec["overlay"].stamps()


def test_label_info_is_latched_for_late_subscribers(ros_node, pipeline):
    got = []
    sub = ros_node.create_subscription(LabelInfo, "/cloud/segmentation/label_info", got.append, qos.LATCHED)
    try:
        assert wait_for(lambda: got, 10)
        assert [c.class_name for c in got[0].class_map][:3] == ["road", "sidewalk", "building"]
        assert len(got[0].class_map) == 19
    finally:
        ros_node.destroy_subscription(sub)


def test_corrupt_packet_mid_stream_recovers_after_one_keyframe_request(ros_node, pipeline):
    rec = pipeline["rec"]
    pub = ros_node.create_publisher(H264Packet, "/camera/image_raw/h264", qos.PUBLISH)
    try:
        time.sleep(1.0)
        last = rec["decoded"].items[-1][1]
        bad = H264Packet(header=last.header, width=W, height=H, encoding="h264;yuv420p;rgb8;rgb8",
                         pts=10**9, flags=0, data=bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8)))
        t0 = time.monotonic()
        pub.publish(bad)
        assert wait_for(lambda: "requesting a keyframe: packet pts 1000000000" in pipeline["log"].getvalue(), 5)
        assert wait_for(lambda: rec["decoded"].since(t0 + 0.05), 5), "decoder did not recover"
        t1 = time.monotonic()
        assert wait_for(lambda: rec["labels"].since(t1), 10), "labels stopped after corruption"
        assert not pipeline["graph"].exited()
    finally:
        ros_node.destroy_publisher(pub)


def test_wrong_encoding_is_logged_and_dropped(ros_node, pipeline):
    pub = ros_node.create_publisher(Image, "/cloud/image_raw", qos.PUBLISH)
    try:
        bad = array_to_image(np.zeros((H, W), np.uint8), Header(frame_id="camera"), "mono8")
        for _ in range(5):
            pub.publish(bad)
            time.sleep(0.1)
        assert wait_for(lambda: "unsupported image encoding 'mono8'" in pipeline["log"].getvalue(), 5)
        t0 = time.monotonic()
        assert wait_for(lambda: pipeline["rec"]["labels"].since(t0), 10)
        assert not pipeline["graph"].exited()
    finally:
        ros_node.destroy_publisher(pub)


@pytest.mark.parametrize("node,param,value,message", [
    ("segmentation", "overlay_alpha", "2.0", "overlay_alpha 2.0 must be within 0..1"),
    ("h264_encoder", "crf", "80", "crf"),
    ("camera", "source", "webcam", "source 'webcam' is not one of"),
    ("segmentation", "weights", "/nonexistent/model.pt", "/nonexistent/model.pt"),
    ("segmentation", "super_resolution", "carn_x3", "unknown model 'carn_x3'"),
])
def test_bad_parameter_exits_with_a_clear_error(ros_domain, node, param, value, message):
    side = "edge" if node in {s.name for s in group_nodes("edge")} else "cloud"
    spec = next(s for s in group_nodes(side) if s.name == node)
    proc = subprocess.run(node_command(spec, default_params_file(side), {param: value}),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot start" in proc.stderr + proc.stdout and message in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
