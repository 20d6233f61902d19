"""Camera, encoder, decoder and cloud segmentation nodes as separate processes over Fast DDS."""
from __future__ import annotations

import io
import os
import signal
import time

import numpy as np
import pytest

from support import Recorder, wait_for

from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from seg_bringup.runner import Graph  # noqa: E402
from seg_interfaces.msg import H264Packet, LabelInfo  # noqa: E402
from seg_ros import qos  # noqa: E402

W, H = 320, 240
INJECTED_PTS = 10**9  # the corrupt packet's
OVERRIDES = {
    "camera": {"width": W, "height": H, "rate": 10},
    # No periodic keyframe during the test: decoding a late start or after corruption needs a request.
    "h264_encoder": {"gop": 100000},
    "segmentation": {"threads": 1},
}


@pytest.fixture(scope="module")
def pipeline(ros_node):
    log = io.StringIO()
    # Camera stamps from camera_info: every one arrives (reliable, small).
    rec = {"camera": Recorder(ros_node, CameraInfo, "/camera/camera_info")}
    rec.update({name: Recorder(ros_node, Image, topic, qos.QUEUED_FRAMES) for name, topic in [
        ("decoded", "/cloud/image_raw"), ("mask", "/cloud/segmentation/color_mask"),
        ("overlay", "/cloud/segmentation/overlay")]})
    rec["labels"] = Recorder(ros_node, Image, "/cloud/segmentation/labels")
    graph = Graph(["edge", "cloud"], OVERRIDES, output=log)
    try:
        graph.start("camera")
        graph.start("h264_encoder")
        assert wait_for(lambda: len(rec["camera"].items) >= 20, 60), f"camera published nothing\n{log.getvalue()}"
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
    text = log.getvalue()
    assert all(code == 0 for code in codes.values()), f"exit codes {codes}\n{text}"
    assert "Traceback" not in text, text
    lost = [line for line in text.splitlines() if "a packet was lost" in line and f"to {INJECTED_PTS}" not in line]
    assert not lost, "reliable H.264 packets were lost on one host:\n" + "\n".join(lost)


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
        assert got[0].model == "deeplabv3_mobilenet_v3_large"
    finally:
        ros_node.destroy_subscription(sub)


def test_a_stalled_decoder_loses_no_packet(pipeline):
    """A decoder that stops for 3 s (30 packets at 10 fps, a CPU starved by other work) catches up
    on the reliable stream without a gap: the packet history outlasts the stall."""
    rec, graph, log = pipeline["rec"], pipeline["graph"], pipeline["log"]
    mark = len(log.getvalue())
    decoder = graph.processes["h264_decoder"].pid
    os.kill(decoder, signal.SIGSTOP)
    time.sleep(3.0)
    os.kill(decoder, signal.SIGCONT)
    t0 = time.monotonic()
    assert wait_for(lambda: len(rec["decoded"].since(t0)) >= 5, 15), log.getvalue()[mark:]
    after = log.getvalue()[mark:]
    assert "a packet was lost" not in after and "requesting a keyframe" not in after, after


def test_corrupt_packet_mid_stream_recovers_after_one_keyframe_request(ros_node, pipeline):
    rec = pipeline["rec"]
    pub = ros_node.create_publisher(H264Packet, "/camera/image_raw/h264", qos.PACKETS)
    try:
        assert wait_for(lambda: pub.get_subscription_count() >= 1, 10), "the decoder never matched"
        last = rec["decoded"].items[-1][1]
        junk = np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes()
        bad = H264Packet(header=last.header, width=W, height=H, encoding="h264;yuv420p;rgb8;rgb8",
                         pts=INJECTED_PTS, flags=0, data=junk)
        t0 = time.monotonic()
        pub.publish(bad)
        assert wait_for(lambda: f"requesting a keyframe: packet pts {INJECTED_PTS}" in pipeline["log"].getvalue(), 5)
        assert wait_for(lambda: rec["decoded"].since(t0 + 0.05), 5), "decoder did not recover"
        t1 = time.monotonic()
        assert wait_for(lambda: rec["labels"].since(t1), 10), "labels stopped after corruption"
        assert not pipeline["graph"].exited()
    finally:
        ros_node.destroy_publisher(pub)


def test_the_encoder_takes_new_settings_while_running_starting_with_a_keyframe(ros_node, pipeline):
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient
    rec, log = pipeline["rec"], pipeline["log"]
    client = AsyncParameterClient(ros_node, "h264_encoder")
    assert client.wait_for_services(10), "the encoder's parameter service never appeared"

    def set_parameters(**values) -> list:
        future = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        assert wait_for(future.done, 10), "no answer from the encoder's parameter service"
        return future.result().results

    (fixed,) = set_parameters(gop=10)
    assert not fixed.successful and "gop can only be set at start-up" in fixed.reason
    (bad,) = set_parameters(scale=2.0)
    assert not bad.successful and "scale 2.0 must be within (0, 1]" in bad.reason
    mark, t0 = len(log.getvalue()), time.monotonic()
    try:
        assert all(r.successful for r in set_parameters(scale=0.5, bitrate=200000))
        assert wait_for(lambda: any(m.width == W // 2 for _, m in rec["decoded"].since(t0)), 15), \
            f"no half-size frame decoded\n{log.getvalue()[mark:]}"
    finally:
        assert all(r.successful for r in set_parameters(scale=1.0, bitrate=0))
    t1 = time.monotonic()
    assert wait_for(lambda: any(m.width == W for _, m in rec["decoded"].since(t1)), 15)
    assert wait_for(lambda: rec["labels"].since(t1), 15), "labels stopped after the changes"
    after = log.getvalue()[mark:]
    assert "a packet was lost" not in after and "waiting for a keyframe" not in after, after
