"""Recording the live pipeline into a rosbag2 MCAP bag and replaying it: separate processes over Fast DDS.

The live run and the replay run the same model settings (input size, one thread), so on CPU the
replayed labels equal the recorded ones pixel for pixel; each run's segmentation skips frames of
its own (newest-frame subscriptions), so labels are compared per camera stamp.
"""
from __future__ import annotations

import ast
import io
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import Recorder, wait_for

from rclpy.serialization import deserialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from seg_bag.bag_file import open_bag  # noqa: E402
from seg_bringup.graph import group_nodes  # noqa: E402
from seg_bringup.runner import Graph, ORPHAN_GUARD, default_params_file, node_command  # noqa: E402
from seg_interfaces.msg import H264Packet, LabelInfo, SegmentationStatus, StageTiming  # noqa: E402
from seg_ros import qos  # noqa: E402
from seg_ros.images import image_to_mono, image_to_rgb, png_to_labels  # noqa: E402

W, H, RATE = 320, 240, 4.0
RECORD_PACKETS = int(10 * RATE)                       # 10 s of camera frames
MODEL = {"input_width": 256, "input_height": 128, "threads": 1}
# a keyframe every second, as the default (30 frames at 30 fps): a replay decodes from the bag's first one
LIVE = {"camera": {"width": W, "height": H, "rate": RATE}, "h264_encoder": {"gop": int(RATE)}, "segmentation": MODEL}
WITNESSED = {   # reliable topics of the compact preset, each with one message per publication
    "/camera/image_raw/h264": H264Packet,
    "/camera/camera_info": CameraInfo,
    "/cloud/segmentation/labels/compressed": CompressedImage,
    "/segmentation/status": SegmentationStatus,
    "/seg/timing": StageTiming,
}
WRITER = Path(__file__).with_name("write_camera_bag.py")


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def key(topic: str, msg) -> tuple:
    """What identifies one publication on a topic (/seg/timing: one per stage per frame)."""
    return (stamp_ns(msg), msg.stage) if topic == "/seg/timing" else (stamp_ns(msg),)


def witness(node, topics: dict) -> dict[str, Recorder]:
    """What the test process itself receives on `topics` (reliably, like the recorder)."""
    return {name: Recorder(node, msg_type, name) for name, msg_type in topics.items()}


def messages(recorder: Recorder) -> list:
    return [m for _, m in list(recorder.items)]


def stamps(recorder: Recorder) -> list[int]:
    return [stamp_ns(m) for m in messages(recorder)]


def quiet(recorders: dict[str, Recorder], seconds: float):
    """A predicate: true once the recorders received nothing new for `seconds`."""
    state = {"count": -1, "since": time.monotonic()}

    def check() -> bool:
        count = sum(len(r.items) for r in recorders.values())
        if count != state["count"]:
            state["count"], state["since"] = count, time.monotonic()
        return time.monotonic() - state["since"] >= seconds
    return check


def sealed(bag: Path, topic: str) -> int:
    """Messages of `topic` a recorder has made durable so far (its bag's metadata.yaml)."""
    try:
        info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    except (OSError, TypeError, KeyError):
        return 0
    return sum(t["message_count"] for t in info["topics_with_message_count"] if t["topic_metadata"]["name"] == topic)


def bag_messages(path) -> dict[str, list]:
    reader = open_bag(path)
    try:
        types = {**WITNESSED, "/cloud/segmentation/label_info": LabelInfo, "/segmentation/label_info": LabelInfo}
        out = defaultdict(list)
        for conn, _, data in reader.messages():
            out[conn.topic].append(deserialize_message(bytes(data), types[conn.topic]))
        return out
    finally:
        reader.close()


def player(bag, log_level: str = "info", **params) -> list[str]:
    spec = next(s for s in group_nodes("replay") if s.name == "bag_player")
    return node_command(spec, default_params_file("replay"), {"bag": str(bag), **params}, log_level)


def play(bag, timeout: float = 60, **params) -> subprocess.CompletedProcess:
    return subprocess.run(player(bag, **params), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def recording(ros_node, tmp_path_factory):
    """10 s of the live pipeline recorded with the compact preset; a second recorder killed halfway."""
    out = tmp_path_factory.mktemp("bags")
    bag, killed = out / "live", out / "killed"
    log = io.StringIO()
    seen = witness(ros_node, WITNESSED)
    graph = Graph(["edge", "cloud", "record"], {**LIVE, "bag_recorder": {"output": str(bag)}}, output=log)
    spec = group_nodes("record")[0]
    cmd = node_command(spec, default_params_file("record"), {"output": str(killed)})
    cmd[cmd.index(f"__node:={spec.name}")] = "__node:=killed_recorder"
    killed_proc = None
    hashes = {}
    try:
        for node in ["camera", "h264_encoder", "h264_decoder", "segmentation", "segmentation_arbiter"]:
            graph.start(node)
        assert wait_for(lambda: seen["/cloud/segmentation/labels/compressed"].items, 120), \
            f"the live pipeline made no labels\n{log.getvalue()}"
        graph.start("bag_recorder")
        killed_proc = subprocess.Popen(ORPHAN_GUARD + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: all(f"recording {t} " in log.getvalue() for t in WITNESSED), 30), log.getvalue()
        first = len(seen["/camera/image_raw/h264"].items)
        # killed once its bag on disk holds a quarter of the recording (metadata.yaml: what it sealed)
        assert wait_for(lambda: sealed(killed, "/camera/image_raw/h264") >= RECORD_PACKETS // 4, 60)
        killed_proc.send_signal(signal.SIGKILL)
        for topic in WITNESSED:
            hashes[topic] = {f"RIHS{e.topic_type_hash.version:02d}_{e.topic_type_hash.value.hex()}"
                             for e in ros_node.get_publishers_info_by_topic(topic)
                             if e.node_name not in ("bag_recorder", "killed_recorder")}
        assert wait_for(lambda: len(seen["/camera/image_raw/h264"].items) >= first + RECORD_PACKETS, 30)
        graph.stop("camera")
        last = stamps(seen["/camera/image_raw/h264"])[-1]
        # the pipeline drains: the newest frame is always segmented, its status follows, then quiet
        assert wait_for(lambda: last in stamps(seen["/segmentation/status"]), 30), log.getvalue()
        assert wait_for(quiet(seen, 1.0), 10)
        assert graph.stop("bag_recorder") == {"bag_recorder": 0}, log.getvalue()
    finally:
        graph.stop()
        if killed_proc is not None:
            killed_proc.kill()
            killed_proc.wait()
    yield {"bag": bag, "killed": killed, "seen": seen, "hashes": hashes, "log": log.getvalue()}


def test_bag_holds_every_reliable_message_published_while_recording(recording):
    bag = bag_messages(recording["bag"])
    # the encoder numbers its packets: none is missing from the bag
    pts = [m.pts for m in bag["/camera/image_raw/h264"]]
    assert len(pts) >= RECORD_PACKETS and pts == list(range(pts[0], pts[0] + len(pts)))
    # whatever another subscriber (this test) got, the bag has too, from the recorder's first
    # message per publisher on (it joined a running pipeline)
    seen = recording["seen"]
    for topic in WITNESSED:
        recorded = [key(topic, m) for m in bag[topic]]
        assert recorded, topic
        for group in {k[1:] for k in recorded}:
            mine = [k for k in recorded if k[1:] == group]
            got = [k for k in (key(topic, m) for m in messages(seen[topic])) if k[1:] == group and k[0] >= mine[0][0]]
            missing = Counter(got) - Counter(mine)
            assert not missing and len(mine) >= len(got), f"{topic} {group}: the bag lacks {sorted(missing)}"
    assert len(bag["/cloud/segmentation/labels/compressed"]) >= RECORD_PACKETS // 3


def test_bag_types_hashes_and_offered_qos_are_recorded(recording):
    reader = open_bag(recording["bag"])
    try:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/camera/image_raw/h264"].msgtype == "seg_interfaces/msg/H264Packet"
        assert conns["/camera/camera_info"].msgtype == "sensor_msgs/msg/CameraInfo"
        for topic, hashes in recording["hashes"].items():
            assert hashes == {conns[topic].digest}, topic
        for topic in ["/segmentation/label_info", "/cloud/segmentation/label_info"]:
            # published once, when its node started, long before the recorder: recorded as latched
            assert conns[topic].msgcount == 1, topic
            assert {q.durability.name for q in conns[topic].ext.offered_qos_profiles} == {"TRANSIENT_LOCAL"}
        for topic in WITNESSED:
            assert {q.reliability.name for q in conns[topic].ext.offered_qos_profiles} == {"RELIABLE"}, topic
            assert {q.durability.name for q in conns[topic].ext.offered_qos_profiles} == {"VOLATILE"}, topic
    finally:
        reader.close()


def test_bag_reads_with_the_mcap_library_without_the_project_packages(recording):
    """The message definitions are in the file: decode it where seg_interfaces is not importable."""
    script = f"""
import collections, sys
try:
    import seg_interfaces
    sys.exit("seg_interfaces is importable")
except ImportError:
    pass
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
counts = collections.Counter()
with open({str(next(recording['bag'].glob('*.mcap')))!r}, "rb") as f:
    for schema, channel, message, msg in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
        counts[channel.topic] += 1
        if channel.topic == "/cloud/segmentation/label_info":
            assert [c.class_name for c in msg.class_map][:2] == ["road", "sidewalk"]
        if channel.topic == "/camera/image_raw/h264":
            assert msg.encoding.startswith("h264;") and len(msg.data) > 0
print(dict(counts))
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    reader = open_bag(recording["bag"])
    try:
        assert counts == {c.topic: c.msgcount for c in reader.connections}
    finally:
        reader.close()


def test_killed_recorder_leaves_a_bag_that_opens_with_what_it_had(recording):
    killed = bag_messages(recording["killed"])
    full = bag_messages(recording["bag"])
    packets = [stamp_ns(m) for m in killed["/camera/image_raw/h264"]]
    assert len(packets) >= RECORD_PACKETS // 4
    assert set(packets) <= set(stamps(recording["seen"]["/camera/image_raw/h264"]))
    assert len(packets) < len(full["/camera/image_raw/h264"])
    assert len(killed["/cloud/segmentation/label_info"]) == 1


@pytest.fixture(scope="module")
def replay(ros_node):
    """The replay graph (no player yet): encoder, decoder, segmentation and arbiter on the bag's clock."""
    log = io.StringIO()
    graph = Graph(["replay"], {"segmentation": MODEL}, output=log)
    seen = witness(ros_node, {"/cloud/segmentation/labels": Image, "/segmentation/labels": Image,
                              "/segmentation/status": SegmentationStatus})
    try:
        for node in ["h264_encoder", "h264_decoder", "segmentation", "segmentation_arbiter"]:
            graph.start(node)
        # segmentation subscribes once its model is loaded; the arbiter takes the decoded frames too
        assert wait_for(lambda: ros_node.count_subscribers("/cloud/image_raw") >= 2, 120), log.getvalue()
        assert wait_for(lambda: ros_node.count_subscribers("/camera/image_raw/h264") >= 1, 30), log.getvalue()
        yield {"graph": graph, "seen": seen, "log": log}
        assert not graph.exited(), f"a replay node died\n{log.getvalue()}"
    finally:
        graph.stop()


def test_replay_reproduces_the_recorded_labels_pixel_for_pixel(recording, replay):
    seen = replay["seen"]
    proc = play(recording["bag"], timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "played" in proc.stderr
    bag = bag_messages(recording["bag"])
    recorded = {stamp_ns(m): png_to_labels(bytes(m.data)) for m in bag["/cloud/segmentation/labels/compressed"]}
    assert wait_for(quiet(seen, 1.0), 30), replay["log"].getvalue()
    replayed = {stamp_ns(m): image_to_mono(m) for m in messages(seen["/cloud/segmentation/labels"])}
    common = sorted(set(recorded) & set(replayed))
    assert len(common) >= max(5, len(recorded) // 3), (len(recorded), len(replayed), len(common))
    for stamp in common:
        assert np.array_equal(recorded[stamp], replayed[stamp]), f"labels differ at stamp {stamp}"
    # the arbiter runs on the bag's clock (/clock): the replayed cloud labels are on time and served
    served = {stamp_ns(m): m for m in messages(seen["/segmentation/status"]) if stamp_ns(m) in replayed}
    assert len(served) >= len(common) // 2 and {m.source for m in served.values()} == {"cloud"}
    final = {stamp_ns(m): image_to_mono(m) for m in messages(seen["/segmentation/labels"])}
    assert all(np.array_equal(final[s], replayed[s]) for s in set(final) & set(served))


def test_replayed_label_info_is_latched(ros_node, recording, replay):
    bag = bag_messages(recording["bag"])
    recorded = bag["/segmentation/label_info"][0]
    infos = Recorder(ros_node, CameraInfo, "/camera/camera_info")
    cmd = player(recording["bag"], topics="[/segmentation/label_info, /camera/camera_info]")
    proc = subprocess.Popen(ORPHAN_GUARD + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # the class list was recorded when the recorder started, before its 5th camera info
        fifth = stamp_ns(bag["/camera/camera_info"][4])
        assert wait_for(lambda: fifth in stamps(infos), 30)
        got = []
        sub = ros_node.create_subscription(LabelInfo, "/segmentation/label_info", got.append, qos.LATCHED)
        assert wait_for(lambda: any(stamp_ns(m) == stamp_ns(recorded) for m in got), 10), [stamp_ns(m) for m in got]
        ros_node.destroy_subscription(sub)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0, proc.stderr.read()


def test_robot_camera_bags_feed_the_cloud_and_the_encoder(tmp_path, replay):
    """A bag of sensor_msgs/Image and CompressedImage from another recorder, remapped into the graph."""
    from seg_core.models.inference import Segmenter
    bag = tmp_path / "robot"
    subprocess.run([sys.executable, str(WRITER), str(bag), "--frames", "6"], check=True, timeout=120)
    frames = {stamp_ns(m): image_to_rgb(m) for m in
              (deserialize_message(bytes(d), Image) for c, _, d in open_bag(bag).messages()
               if c.topic == "/robot/front/image_raw")}
    segmenter = Segmenter("deeplabv3_mobilenet_v3_large", input_size=(256, 128), threads=1)
    expected = {s: segmenter.predict(rgb) for s, rgb in frames.items()}
    labels = replay["seen"]["/cloud/segmentation/labels"]
    for topic in ["/robot/front/image_raw", "/robot/front/image_raw/compressed"]:
        labels.items.clear()
        # the replay graph's segmentation and arbiter take /cloud/image_raw
        proc = play(bag, camera_topic=topic, rate="0.5", subscribers="2")
        assert proc.returncode == 0, proc.stderr
        # a busy segmentation keeps only the newest frame, so how many it labels depends on the CPU;
        # the last one it always labels
        assert wait_for(lambda: max(frames) in {stamp_ns(m) for m in messages(labels)}, 60), \
            (topic, proc.stderr, sorted(stamps(labels)), replay["log"].getvalue()[-4000:])
        assert wait_for(quiet(replay["seen"], 1.0), 30)
        got = {stamp_ns(m): image_to_mono(m) for m in messages(labels)}
        assert set(got) <= set(frames), (topic, sorted(got), proc.stderr)
        # the same pixels (PNG is lossless) through the same model: the same labels
        assert all(np.array_equal(got[s], expected[s]) for s in got), topic
    labels.items.clear()
    proc = play(bag, camera_topic="/robot/front/image_raw", camera_output="/camera/image_raw", rate="0.5",
                subscribers="1")
    assert proc.returncode == 0, proc.stderr
    # through the H.264 encoder and decoder: labels for the robot's frames, by their stamps
    assert wait_for(lambda: len(stamps(labels)) >= len(frames) // 2, 60), \
        (proc.stderr, sorted(stamps(labels)), replay["log"].getvalue()[-4000:])
    assert wait_for(quiet(replay["seen"], 1.0), 30)
    got = stamps(labels)
    assert len(got) >= len(frames) // 2 and set(got) <= set(frames), sorted(got)


def test_bad_bags_get_one_clear_line_and_nothing_else_fails(tmp_path, recording, replay):
    robot, back = tmp_path / "robot", tmp_path / "back"
    for path, extra in [(robot, []), (back, ["--split-back", "30"])]:
        subprocess.run([sys.executable, str(WRITER), str(path), "--frames", "3", *extra], check=True, timeout=120)
    truncated = tmp_path / "truncated.mcap"
    data = next(recording["bag"].glob("*.mcap")).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    cases = {   # name: (player parameters, exit code, the line)
        "missing": ({"bag": tmp_path / "nowhere"}, 2, "does not exist"),
        "truncated": ({"bag": truncated}, 2, "cannot be read (truncated or damaged?)"),
        "unknown type": ({"bag": robot, "topics": "[/robot/widget, /robot/front/image_raw]"}, 0,
                         "skipping /robot/widget: unknown message type 'acme_msgs/msg/Widget'"),
        "topic not in bag": ({"bag": robot, "topics": "[/camera/image_raw/h264]"}, 2,
                             "topic /camera/image_raw/h264 is not in the bag"),
        "unsupported encoding": ({"bag": robot, "camera_topic": "/robot/depth/image_raw"}, 0,
                                 "encoding '16UC1' is not supported"),
        "clock backwards": ({"bag": back, "topics": "[/robot/front/image_raw]"}, 0,
                            "bag clock runs backwards by 30.400 s"),
        "negative count": ({"bag": robot, "subscribers": "-1"}, 2,
                           "start_offset, clock, wait_for_subscribers_s and subscribers must be >= 0"),
    }
    procs = {name: subprocess.Popen(ORPHAN_GUARD + player(**{"wait_for_subscribers_s": "0.0", **params}),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, (params, _, _) in cases.items()}
    for name, (_, code, line) in cases.items():
        output = procs[name].communicate(timeout=60)[0]
        assert procs[name].returncode == code, f"{name}: {output}"
        assert output.count(line) == 1 and "Traceback" not in output, f"{name}: {output}"
    assert not replay["graph"].exited()
