"""Bag files, playback timing and the rosbag2 command lines (no DDS traffic)."""
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("rosbags", reason="rosbags not installed: bash scripts/setup.sh")

from mcap.reader import make_reader  # noqa: E402
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime  # noqa: E402

from seg_bag.bag_file import BagError, BagWriter, add_message_types, open_bag, standard_typestore  # noqa: E402
from seg_bag.playback import PlaybackTimeline  # noqa: E402
from seg_bag.presets import COMPACT, FULL, play_command, preset_topics, record_command  # noqa: E402

LATCHED = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, QosTime(0, 0),
              QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)

WRITE_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from seg_bag.bag_file import BagWriter, standard_typestore
    store = standard_typestore()
    String = store.types["std_msgs/msg/String"]
    bag = BagWriter(sys.argv[1])
    bag.add_topic("/chatter", "std_msgs/msg/String", [])
    for i in range(25):
        bag.write("/chatter", 10**9 + i, store.serialize_cdr(String(data=f"m{i}" * 20000), "std_msgs/msg/String"))
        if i % 10 == 9:
            bag.seal()
    os.kill(os.getpid(), signal.SIGKILL)
""")


def read_back(path) -> dict:
    reader = open_bag(path)
    try:
        return {c.topic: sum(1 for _ in reader.messages([c])) for c in reader.connections}
    finally:
        reader.close()


def test_bag_is_complete_on_disk_after_each_seal_even_when_the_writer_is_killed(tmp_path):
    bag = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", WRITE_AND_DIE, str(bag)], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert read_back(bag) == {"/chatter": 20}          # what it had sealed; the last 5 were pending
    with open(bag / "killed.mcap", "rb") as f:        # a valid MCAP with its summary, for any reader
        summary = make_reader(f).get_summary()
    assert summary.statistics.message_count == 20
    assert [s.name for s in summary.schemas.values()] == ["std_msgs/msg/String"]


def test_bag_embeds_project_types_and_offered_qos(tmp_path):
    store = standard_typestore()
    add_message_types(store, ["seg_interfaces/msg/LabelInfo"])
    assert {"seg_interfaces/msg/LabelInfo", "seg_interfaces/msg/VisionClass"} <= set(store.fielddefs)
    bag = BagWriter(tmp_path / "b", store)
    bag.add_topic("/segmentation/label_info", "seg_interfaces/msg/LabelInfo", [LATCHED])
    info = store.types["seg_interfaces/msg/LabelInfo"]
    cls = store.types["seg_interfaces/msg/VisionClass"]
    header = store.types["std_msgs/msg/Header"](stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2),
                                                frame_id="")
    msg = info(header=header, class_map=[cls(class_id=0, class_name="road")], threshold=0.0,
               model="enet")
    bag.write("/segmentation/label_info", 5, store.serialize_cdr(msg, "seg_interfaces/msg/LabelInfo"))
    bag.close()
    reader = open_bag(tmp_path / "b")
    try:
        (conn,) = reader.connections
        assert conn.ext.offered_qos_profiles == [LATCHED]
        assert "MSG: seg_interfaces/VisionClass" in conn.msgdef.data
        assert conn.digest.startswith("RIHS01_")
    finally:
        reader.close()


def test_add_message_types_names_what_is_missing():
    with pytest.raises(BagError, match="package acme_msgs is not installed"):
        add_message_types(standard_typestore(), ["acme_msgs/msg/Widget"])


def test_bad_bags_are_refused_with_the_reason(tmp_path):
    with pytest.raises(BagError, match="does not exist"):
        open_bag(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="is not a rosbag2 bag"):
        open_bag(tmp_path / "empty")
    bag = BagWriter(tmp_path / "whole")
    bag.add_topic("/x", "std_msgs/msg/String", [])
    bag.write("/x", 1, bytes(standard_typestore().serialize_cdr(
        standard_typestore().types["std_msgs/msg/String"](data="x"), "std_msgs/msg/String")))
    bag.close()
    data = (tmp_path / "whole" / "whole.mcap").read_bytes()
    (tmp_path / "cut.mcap").write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match="truncated or damaged"):
        open_bag(tmp_path / "cut.mcap")
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "whole")


def test_playback_keeps_the_recorded_pace_times_the_rate():
    now = [100.0]
    timeline = PlaybackTimeline(2.0, clock=lambda: now[0])
    timeline.restart(5_000_000_000)
    assert timeline.due(5_000_000_000) == (100.0, 0)
    assert timeline.due(7_000_000_000) == (101.0, 0)        # 2 s of bag at rate 2
    now[0] = 100.5
    assert timeline.bag_now() == 6_000_000_000
    due, back = timeline.due(4_000_000_000)                 # the bag's clock ran 3 s backwards
    assert (due, back) == (100.5, 3_000_000_000)
    assert timeline.due(4_200_000_000) == (100.6, 0)        # ... and the pace goes on from there
    with pytest.raises(ValueError, match="rate"):
        PlaybackTimeline(0.0)


def test_presets_and_ros2_bag_command_lines():
    assert set(COMPACT) < set(FULL) and "/camera/image_raw/h264" in COMPACT and "/camera/image_raw" not in COMPACT
    with pytest.raises(ValueError, match="unknown recording preset 'huge'"):
        preset_topics("huge")
    assert record_command("compact", "bags/run1") == [
        "ros2", "bag", "record", "-s", "mcap", "-o", "bags/run1", "--topics", *COMPACT]
    assert play_command("bags/run1", 0.5, True, 2.0, 100.0, ("/a",), {"/robot/cam": "/cloud/image_raw"}) == [
        "ros2", "bag", "play", "bags/run1", "--rate", "0.5", "--start-offset", "2", "--loop", "--clock", "100",
        "--topics", "/a", "--remap", "/robot/cam:=/cloud/image_raw"]
    with pytest.raises(ValueError, match="rate"):
        play_command("b", rate=0.0)
