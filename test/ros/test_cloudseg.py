"""Profile cloudseg with real processes over Fast DDS: the camera goes up at a quarter of its size,
the cloud super-resolves it, segments it with ICNet and returns labels at the camera's size.

Camera 320x240 at 10 Hz -> encoder (scale 0.25: 80x60) -> decoder -> segmentation (CARN-M x4 +
ICNet with low-resolution reuse), as config/profiles/cloudseg lays them out.
"""
from __future__ import annotations

import io
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml

from support import Recorder, wait_for

from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from seg_bringup.graph import NodeSpec  # noqa: E402
from seg_bringup.runner import Graph, ORPHAN_GUARD, node_command  # noqa: E402
from seg_core.codec import EncoderConfig, H264Encoder  # noqa: E402
from seg_interfaces.msg import H264Packet  # noqa: E402
from seg_ros import qos  # noqa: E402

W, H = 320, 240
OVERRIDES = {
    "camera": {"width": W, "height": H, "rate": 10.0},
    "segmentation": {"threads": 1, "publish_color_mask": False, "publish_compressed_labels": False},
}


def messages(recorder: Recorder, since: float = 0.0) -> list:
    return [m for _, m in recorder.since(since)]


WITHOUT_SR = "segmentation_without_sr"


def start_without_sr_weights(tmp_path) -> subprocess.Popen:
    """A second cloud segmentation node, given SR weights that do not exist."""
    spec = NodeSpec("seg_cloud", "segmentation", WITHOUT_SR, (
        ("image", "/cloud/image_raw"), ("camera_info", "/cloud/camera_info"), ("labels", f"/{WITHOUT_SR}/labels")))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({WITHOUT_SR: {"ros__parameters": {
        "model": "icnet", "super_resolution": "carn_m_x4", "sr_weights": "/nonexistent/sr.pt", "lr_reuse": True,
        "threads": 1, "publish_color_mask": False, "publish_overlay": False, "publish_compressed_labels": False}}}))
    return subprocess.Popen(ORPHAN_GUARD + node_command(spec, params), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def cloudseg(ros_node, tmp_path_factory):
    log = io.StringIO()
    # Camera stamps from camera_info: every one arrives (reliable, small).
    rec = {name: Recorder(ros_node, msg_type, topic) for name, msg_type, topic in [
        ("camera", CameraInfo, "/camera/camera_info"), ("packets", H264Packet, "/camera/image_raw/h264"),
        ("info", CameraInfo, "/cloud/camera_info"), ("labels", Image, "/cloud/segmentation/labels"),
        ("without_sr", Image, f"/{WITHOUT_SR}/labels")]}
    rec.update({name: Recorder(ros_node, Image, topic, qos.QUEUED_FRAMES) for name, topic in [
        ("decoded", "/cloud/image_raw"), ("overlay", "/cloud/segmentation/overlay"), ("sr", "/cloud/image_sr")]})
    graph = Graph(["edge", "cloud"], OVERRIDES, output=log, profile="cloudseg")
    without_sr = start_without_sr_weights(tmp_path_factory.mktemp("params"))
    try:
        for name in ("camera", "h264_encoder", "h264_decoder", "segmentation"):
            graph.start(name)
        assert wait_for(lambda: len(rec["labels"].items) >= 3, 120), f"no labels\n{log.getvalue()}"
    except BaseException:
        graph.stop()
        without_sr.kill()
        raise
    yield {"graph": graph, "rec": rec, "log": log, "without_sr": without_sr}
    codes = graph.stop()
    assert all(code == 0 for code in codes.values()), f"exit codes {codes}\n{log.getvalue()}"
    assert "Traceback" not in log.getvalue(), log.getvalue()


def test_low_resolution_up_labels_at_the_camera_size_and_stamps(cloudseg):
    rec = cloudseg["rec"]
    assert {(m.width, m.height) for m in messages(rec["packets"])} == {(W, H)}  # the original size
    assert {(m.width, m.height) for m in messages(rec["decoded"])} == {(W // 4, H // 4)}
    assert {(m.width, m.height, m.binning_x, m.binning_y) for m in messages(rec["info"])} == {(W, H, 4, 4)}
    for name, encoding in (("labels", "mono8"), ("overlay", "rgb8"), ("sr", "rgb8")):
        assert wait_for(lambda: rec[name].items, 20), name
        msgs = messages(rec[name])
        assert {(m.width, m.height, m.encoding) for m in msgs} == {(W, H, encoding)}, name
        assert rec[name].stamps() <= rec["camera"].stamps(), f"{name} stamps are not the camera's"
    labels = np.frombuffer(rec["labels"].last().data, np.uint8)
    assert labels.max() < 19 or 255 in labels
    assert "upscaling x4 with carn_m_x4, low-resolution reuse" in cloudseg["log"].getvalue()


def test_a_stream_the_scale_cannot_map_is_logged_and_dropped(ros_node, cloudseg):
    """A keyframe of a 160x120 stream for a 320x240 camera: x4 would make it 640x480."""
    rec, log = cloudseg["rec"], cloudseg["log"]
    pub = ros_node.create_publisher(H264Packet, "/camera/image_raw/h264", qos.PUBLISH)
    try:
        assert wait_for(lambda: pub.get_subscription_count() > 0, 10)
        wrong = H264Encoder(W // 2, H // 2, EncoderConfig()).encode(np.full((H // 2, W // 2, 3), 90, np.uint8),
                                                                    force_keyframe=True)
        stamp = rec["camera"].last().header
        packet = H264Packet(header=stamp, width=W, height=H, encoding="h264;yuv420p;rgb8;rgb8", pts=10**9,
                            flags=H264Packet.FLAG_KEYFRAME, data=wrong.data)
        message = "dropping frame: a 160x120 frame upscaled x4 is 640x480, which does not map onto the camera's 320x240"
        # the segmentation keeps only the newest decoded frame: send again until it took this one
        for _ in range(20):
            pub.publish(packet)
            if wait_for(lambda: message in log.getvalue(), 1.0):
                break
        assert message in log.getvalue(), log.getvalue()[-3000:]
        assert (W // 2, H // 2) not in {(m.width, m.height) for m in messages(rec["labels"])}
        t0 = time.monotonic()
        assert wait_for(lambda: messages(rec["labels"], t0), 30), "labels did not resume"
        assert not cloudseg["graph"].exited()
    finally:
        ros_node.destroy_publisher(pub)


def test_missing_sr_weights_are_logged_and_the_node_keeps_segmenting(cloudseg):
    rec, proc = cloudseg["rec"], cloudseg["without_sr"]
    try:
        assert wait_for(lambda: rec["without_sr"].items, 60), "no labels without SR weights"
        assert {(m.width, m.height) for m in messages(rec["without_sr"])} == {(W, H)}
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    lines = [line for line in out.splitlines() if "super-resolution unavailable" in line]
    assert len(lines) == 1 and "weights file not found: /nonexistent/sr.pt" in lines[0], out
    assert "upscaling bilinearly instead" in lines[0] and "Traceback" not in out
