"""Bag player node: plays a rosbag2 bag (MCAP or SQLite, from any recorder) like `ros2 bag play`.

Messages go out as the serialized bytes stored in the bag, at their recorded pace times `rate`,
from `start_offset` seconds into the bag, once or in a `loop`, with the QoS their publishers
offered when recorded (latched topics replay latched). With `clock` > 0 it publishes the bag's
time on /clock at that rate, for nodes with use_sim_time (the arbiter judges deadlines by it).

`camera_topic` feeds a robot's own camera bag to the graph: its sensor_msgs/Image (rgb8, bgr8,
mono8) or sensor_msgs/CompressedImage (JPEG, PNG) frames are published as Image on
`camera_output` (/cloud/image_raw: straight to the cloud segmentation; /camera/image_raw: through
the H.264 encoder first).

Bad input gets one line each: a bag that is missing, truncated or damaged, a requested topic the
bag does not have, a message type not installed here, frames of an unsupported encoding, a bag
clock running backwards.
"""
from __future__ import annotations

import sys
import threading
import time

import cv2
import numpy as np
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from seg_ros import qos
from seg_ros.images import array_to_image
from seg_ros.message_types import load_message_class
from seg_ros.node import PipelineNode, run

from .bag_file import BagError, open_bag, read_messages
from .playback import PlaybackTimeline
from .ros_qos import replay_profile

CAMERA_ENCODINGS = ("rgb8", "bgr8", "mono8")
SETTLE_S = 0.5
DELIVERY_S = 10.0   # at the end, how long to wait for subscribers to acknowledge what was played
CLOCK_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)


class BagPlayerNode(PipelineNode):
    STAGE = "bag_player"
    failed = False   # set when playing stopped on a damaged bag: the process exits 1
    PARAMETERS = {
        "bag": ("", "rosbag2 folder, .mcap or .db3 file to play"),
        "rate": (1.0, "playback speed factor (> 0): 2.0 plays twice as fast as recorded"),
        "loop": (False, "start over at the end"),
        "start_offset": (0.0, "seconds into the bag to start at (>= 0)"),
        "clock": (0.0, "publish the bag's time on /clock at this rate in Hz; 0: no /clock"),
        "topics": (Parameter.Type.STRING_ARRAY, "bag topics to play as recorded; not set: every topic"),
        "camera_topic": ("", "bag topic with sensor_msgs/Image or CompressedImage camera frames to feed "
                             "the graph on camera_output; empty: none"),
        "camera_output": ("/cloud/image_raw", "where camera_topic frames go, as sensor_msgs/Image: "
                                              "/cloud/image_raw (cloud) or /camera/image_raw (encoder)"),
        "wait_for_subscribers_s": (5.0, "wait up to this long for the played topics' subscribers (until "
                                        "their number holds for 0.5 s) before starting; 0: start at once"),
        "subscribers": (0, "wait (up to wait_for_subscribers_s) until every played topic has at least this "
                           "many subscribers, for a graph whose size is known; 0: until their number holds"),
    }

    def __init__(self):
        self._reader = self._thread = None   # destroy_node() runs on a half-built node too
        super().__init__("bag_player")
        p = self.params
        if not p["rate"] > 0:
            raise ValueError(f"rate {p['rate']} must be > 0")
        if min(p["start_offset"], p["clock"], p["wait_for_subscribers_s"], p["subscribers"]) < 0:
            raise ValueError("start_offset, clock, wait_for_subscribers_s and subscribers must be >= 0")
        try:
            self._reader = open_bag(p["bag"])
        except BagError as exc:
            raise ValueError(str(exc)) from None
        self._outputs = {}
        self._connections = self._select_connections()
        self._clock_pub = self.create_publisher(Clock, "/clock", CLOCK_QOS) if p["clock"] > 0 else None
        self._timeline = PlaybackTimeline(p["rate"])
        self._warned: set[str] = set()
        self._counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._next_clock = 0.0
        start = self._reader.start_time + int(p["start_offset"] * 1e9)
        if p["start_offset"] and start >= self._reader.end_time:
            raise ValueError(f"start_offset {p['start_offset']:g} s is past the end of the bag "
                             f"({(self._reader.end_time - self._reader.start_time) / 1e9:.2f} s long)")
        self._start_ns = start
        topics = ", ".join(sorted(self._outputs))
        self.get_logger().info(
            f"playing {p['bag']} ({self._reader.message_count} messages, "
            f"{self._reader.duration / 1e9:.2f} s) at rate {p['rate']:g} from {p['start_offset']:g} s"
            f"{', looping' if p['loop'] else ''}{', /clock at %g Hz' % p['clock'] if p['clock'] else ''}: {topics}")
        # The playing thread ends the node through the executor: spin() sees the end as a shutdown.
        self._finished = self.create_guard_condition(self._end)
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    # ---- set-up -------------------------------------------------------------------------------
    def _select_connections(self) -> list:
        p = self.params
        in_bag = {c.topic: c for c in self._reader.connections}
        requested = list(p["topics"] or [])
        for topic in requested:
            if topic not in in_bag:
                self.get_logger().warning(f"topic {topic} is not in the bag (it has: {', '.join(sorted(in_bag))})")
        wanted = set(requested) if requested else set(in_bag)
        if p["clock"] > 0:
            wanted.discard("/clock")          # the player's own /clock replaces a recorded one
        if p["camera_topic"]:
            wanted.add(p["camera_topic"])
            camera = in_bag.get(p["camera_topic"])
            if camera is None:
                raise ValueError(f"camera_topic {p['camera_topic']} is not in the bag "
                                 f"(it has: {', '.join(sorted(in_bag))})")
            if camera.msgtype not in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"):
                raise ValueError(f"camera_topic {camera.topic} carries {camera.msgtype}; "
                                 "expected sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage")
        selected = []
        for conn in self._reader.connections:
            if conn.topic not in wanted or conn.topic in self._outputs:
                continue
            if conn.topic == p["camera_topic"]:
                self._outputs[conn.topic] = self.create_publisher(Image, p["camera_output"], qos.PUBLISH)
            else:
                try:
                    msg_class = load_message_class(conn.msgtype)
                except ValueError as exc:
                    self.get_logger().warning(f"skipping {conn.topic}: {exc}")
                    continue
                self._outputs[conn.topic] = self.create_publisher(
                    msg_class, conn.topic, replay_profile(conn.ext.offered_qos_profiles))
            selected.append(conn)
        if not selected:
            raise ValueError(f"nothing to play from {p['bag']}: none of the requested topics is in the bag "
                             f"with an installed message type")
        return [c for c in self._reader.connections if c.topic in self._outputs]

    # ---- playing ------------------------------------------------------------------------------
    def _play(self) -> None:
        try:
            self._wait_for_subscribers()
            while self._playing():
                started = time.monotonic()
                played = self._play_once()
                if not self._playing():
                    break                       # Ctrl-C: the context is gone, and with it /rosout
                self.get_logger().info(
                    f"played {played} messages in {time.monotonic() - started:.2f} s: "
                    + ", ".join(f"{t} {n}" for t, n in sorted(self._counts.items())))
                if not self.params["loop"] or not played:
                    self._wait_for_delivery()
                    break
                self._counts.clear()
                self.get_logger().info("looping: back to the start")
        except BagError as exc:
            BagPlayerNode.failed = True
            self.get_logger().error(f"stopped playing: {exc}")
        finally:
            self._finished.trigger()

    def _end(self) -> None:
        raise ExternalShutdownException()

    def _playing(self) -> bool:
        return not self._stop.is_set() and self.context.ok()

    def _wait_for_subscribers(self) -> None:
        """Until every played topic has `subscribers` subscribers or, with 0, until their number held
        for SETTLE_S (discovery matches a graph's subscribers in a burst); at most
        wait_for_subscribers_s. A frame played before its subscriber matched is lost to it."""
        need, wait_s = self.params["subscribers"], self.params["wait_for_subscribers_s"]
        deadline = time.monotonic() + wait_s
        total, since = 0, time.monotonic()
        while self._playing():
            counts = {pub.topic_name: pub.get_subscription_count() for pub in self._outputs.values()}
            if need and min(counts.values(), default=need) >= need:
                break
            if sum(counts.values()) != total:
                total, since = sum(counts.values()), time.monotonic()
            elif not need and total and time.monotonic() - since >= SETTLE_S:
                break
            if time.monotonic() >= deadline:
                if wait_s and need:
                    self.get_logger().warning(f"starting with fewer than {need} subscribers after {wait_s:g} s")
                break
            self._stop.wait(0.05)
        else:
            return
        self.get_logger().info("subscribers: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))

    def _wait_for_delivery(self) -> None:
        """Until every subscriber has acknowledged what was played on the reliable topics, at most
        DELIVERY_S: a player that ended at once could take its last messages with it."""
        deadline = time.monotonic() + DELIVERY_S
        for pub in self._outputs.values():
            while not pub.wait_for_all_acked(Duration(seconds=0.1)):
                if not self._playing():
                    return
                if time.monotonic() > deadline:
                    self.get_logger().warning(f"ending with messages on {pub.topic_name} that a subscriber "
                                              f"has not acknowledged after {DELIVERY_S:g} s")
                    break

    def _play_once(self) -> int:
        played = 0
        first = True
        for conn, stamp, data in read_messages(self._reader, self._connections, self._start_ns):
            if first:
                self._timeline.restart(stamp)
                first = False
            due, back = self._timeline.due(stamp)
            if back:
                self.get_logger().warning(
                    f"bag clock runs backwards by {back / 1e9:.3f} s at {conn.topic} "
                    f"(bag time {stamp / 1e9:.3f}); playing on from there", throttle_duration_sec=5.0)
            if not self._wait_until(due):
                break
            if self._publish(conn, data):
                played += 1
                self._counts[conn.topic] = self._counts.get(conn.topic, 0) + 1
        return played

    def _wait_until(self, due: float) -> bool:
        """Sleep until `due`, publishing /clock meanwhile; False when the node is stopping."""
        while self._playing():
            now = time.monotonic()
            if self._clock_pub and now >= self._next_clock:
                self._publish_clock()
                self._next_clock = now + 1.0 / self.params["clock"]
            if now >= due:
                return True
            self._stop.wait(min(due, self._next_clock) - now if self._clock_pub else due - now)
        return False

    def _publish_clock(self) -> None:
        ns = self._timeline.bag_now()
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(ns, 1_000_000_000)
        self.publish(self._clock_pub, msg)

    def _publish(self, conn, data: bytes) -> bool:
        publisher = self._outputs[conn.topic]
        if conn.topic == self.params["camera_topic"]:
            image = self._camera_image(conn, data)
            return image is not None and self.publish(publisher, image)
        return self.publish(publisher, bytes(data))

    def _camera_image(self, conn, data: bytes) -> Image | bytes | None:
        """A camera frame as an Image (the stored bytes when it is one already); None when unsupported."""
        if conn.msgtype == "sensor_msgs/msg/Image":
            encoding = deserialize_message(bytes(data), Image).encoding
            if encoding in CAMERA_ENCODINGS:
                return bytes(data)
            self._warn_once(f"encoding {encoding}", f"skipping {conn.topic} frames: encoding '{encoding}' is not "
                                                    f"supported (use {', '.join(CAMERA_ENCODINGS)})")
            return None
        msg = deserialize_message(bytes(data), CompressedImage)
        pixels = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            self._warn_once(f"format {msg.format}", f"skipping {conn.topic} frames: cannot decode format "
                                                    f"'{msg.format}' (JPEG and PNG are supported)")
            return None
        return array_to_image(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), msg.header, "rgb8")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().error(text)

    def destroy_node(self) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._stop.set()
            self._thread.join(timeout=5.0)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().destroy_node()


def main(args=None):
    run(BagPlayerNode, args)
    sys.exit(1 if BagPlayerNode.failed else 0)
