"""Bag recorder node: records a topic preset into a rosbag2 folder (MCAP), like `ros2 bag record`.

Topics are found in the graph as their publishers appear (as rosbag2 does), subscribed with a QoS
that matches every publisher (transient local when all of them are, so latched topics such as
label_info are recorded however late they are discovered), and written as the serialized CDR bytes
DDS delivered, stamped with their receive time. The QoS each publisher offered is recorded with
the topic, so players replay latched topics latched. Every `seal_interval_s` the bag on disk is made
complete (seg_bag.bag_file.BagWriter): a recorder killed at any moment leaves a bag that opens.
"""
from __future__ import annotations

import functools
from pathlib import Path

from seg_ros.message_types import load_message_class
from seg_ros.node import PipelineNode, run

from .bag_file import BagError, BagWriter
from .presets import PRESETS, default_bag_name, preset_topics
from .ros_qos import bag_qos, recording_profile


class BagRecorderNode(PipelineNode):
    STAGE = "bag_recorder"
    PARAMETERS = {
        "preset": ("compact", f"topics to record: {', '.join(PRESETS)} (compact: H.264 packets, camera info, "
                              "PNG labels, label info, status, timing; full: + raw images and masks)"),
        "output": ("", "bag folder to create; empty: rosbag2_YYYY_MM_DD-HH_MM_SS in the working directory"),
        "seal_interval_s": (1.0, "seconds between seals that leave a complete bag on disk (at most this much "
                                 "is lost when the recorder is killed)"),
        "discovery_interval_s": (0.1, "seconds between looks for the preset's topics in the graph"),
    }

    def __init__(self):
        self._bag: BagWriter | None = None   # destroy_node() runs on a half-built node too
        super().__init__("bag_recorder")
        p = self.params
        self._wanted = set(preset_topics(p["preset"]))
        if not (p["seal_interval_s"] > 0 and p["discovery_interval_s"] > 0):
            raise ValueError("seal_interval_s and discovery_interval_s must be > 0")
        path = Path(p["output"] or default_bag_name())
        if path.exists():
            raise ValueError(f"output {path} exists already; give a new bag folder")
        try:
            self._bag = BagWriter(path)
        except BagError as exc:
            raise ValueError(str(exc)) from None
        self._recording = {}
        self._refused: set[str] = set()
        self.create_timer(p["discovery_interval_s"], self._discover)
        self.create_timer(p["seal_interval_s"], self._seal)
        self.get_logger().info(f"recording preset {p['preset']} ({len(self._wanted)} topics) into {path} (MCAP)")
        self._discover()

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic not in self._wanted or topic in self._recording or topic in self._refused:
                continue
            offers = [e for e in self.get_publishers_info_by_topic(topic)
                      if e.node_name != self.get_name() or e.node_namespace != self.get_namespace()]
            if not offers:
                continue
            msgtype = types[0]
            try:
                msg_class = load_message_class(msgtype)
                self._bag.add_topic(topic, msgtype, [bag_qos(e.qos_profile) for e in offers])
            except (ValueError, BagError) as exc:
                self._refused.add(topic)
                self.get_logger().error(f"not recording {topic}: {exc}")
                continue
            profile = recording_profile([e.qos_profile for e in offers])
            self._recording[topic] = self.create_subscription(
                msg_class, topic, functools.partial(self._on_message, topic), profile, raw=True)
            self.get_logger().info(f"recording {topic} ({msgtype}, {profile.reliability.name.lower()}, "
                                   f"{profile.durability.name.lower()})")

    def _on_message(self, topic: str, data: bytes, info) -> None:
        self._bag.write(topic, info["received_timestamp"], data)

    def _seal(self) -> None:
        try:
            self._bag.seal()
        except OSError as exc:
            self.get_logger().error(f"cannot write {self._bag.path}: {exc}", throttle_duration_sec=5.0)

    def destroy_node(self) -> None:
        if self._bag is not None:
            self._bag.close()
            counts = ", ".join(f"{t} {n}" for t, n in sorted(self._bag.counts.items())) or "nothing"
            self.get_logger().info(f"closed {self._bag.path}: {counts}")
            self._bag = None
        super().destroy_node()


def main(args=None):
    run(BagRecorderNode, args)
