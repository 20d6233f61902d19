"""Segmentation arbiter (edge side): the one segmentation planners subscribe to, cloud or edge.

For every camera frame it publishes the cloud's labels when they arrive in time (within the
cloud's usual latency plus a margin with `adaptive_wait`, never later than `deadline_s` after the
frame's stamp), else the on-robot ENet labels, so segmentation keeps coming when the link degrades
or the cloud is gone. The rules (failover when the cloud missed every frame for `failover_s` or
the link turns DOWN, handback after `handback_after` hits in a row or link GOOD for `handback_s`,
at most one output per frame, in stamp order, bounded memory) live in seg_core.edge.arbiter.FrameArbiter.

Inputs (relative names; the graph may remap them):
  camera/image_raw                        sensor_msgs/Image: stamps, frame_id, size, overlay pixels
  cloud/segmentation/labels/compressed    sensor_msgs/CompressedImage PNG (cloud_transport:=compressed)
  cloud/segmentation/labels               sensor_msgs/Image mono8        (cloud_transport:=raw)
  edge/segmentation/labels                sensor_msgs/Image mono8
  link/status                             seg_interfaces/LinkStatus (link_monitor)
  camera/image_raw/h264/selection         seg_interfaces/FrameSelection (h264_encoder): frames not sent
                                          to the cloud get its newest labels, marked reused
  link/adaptation                         seg_interfaces/AdaptationState (link_adaptation): use_edge
                                          holds the edge active
  {cloud,edge}/segmentation/label_info    LabelInfo, checked against the Cityscapes classes
Outputs (header = the INPUT camera image's stamp and frame_id):
  segmentation/labels      mono8, camera size (a source of another size is resized, nearest)
  segmentation/color_mask  rgb8 Cityscapes palette
  segmentation/overlay     rgb8 blend with the camera image
  segmentation/label_info  LabelInfo, latched
  segmentation/status      SegmentationStatus per frame: source, active source, model, reused, latency,
                           link state
                           (link_state 255 = no link status heard for link_status_timeout_s)

Bad inputs (undecodable PNG, wrong encodings, unknown class ids) are logged and dropped or
repaired; they never stop the node. A source that sends nothing for `source_silence_warn_s` while
camera frames arrive is reported once (the edge only while the link is not GOOD, since an
on_demand edge idles otherwise), and again when it comes back.
"""
from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from seg_core.edge.arbiter import CLOUD, EDGE, SOURCES, ArbiterConfig, FrameArbiter
from seg_core.data.classes import IGNORE_ID, NUM_CLASSES, colorize, overlay
from seg_core.edge.link import STATE_NAMES
from seg_interfaces.msg import AdaptationState, FrameSelection, LabelInfo, LinkStatus, SegmentationStatus
from seg_ros import qos
from seg_ros.images import array_to_image, image_to_mono, image_to_rgb, png_to_labels
from seg_ros.label_info import cityscapes_label_info, is_cityscapes
from seg_ros.node import PipelineNode, run, stamp_seconds
from seg_ros.parameters import require_positive

LINK_UNKNOWN = 255


class SegmentationArbiterNode(PipelineNode):
    STAGE = "segmentation_arbiter"
    PARAMETERS = {
        "deadline_s": (0.25, "a cloud result later than camera stamp + deadline is replaced by the edge's (s)"),
        "failover_s": (1.0, "the cloud missing every frame over this much camera time makes the edge active (s)"),
        "handback_after": (5, "on-time cloud results in a row that make the cloud active again "
                               "(frames the cloud skipped do not break the row)"),
        "handback_s": (3.0, "... or the link GOOD for this long while the cloud delivers (s)"),
        "adaptive_wait": (True, "wait for the cloud only its usual latency + margin (at most deadline_s) "
                                "before the edge fills in"),
        "wait_margin_s": (0.03, "least margin above the cloud's smoothed latency with adaptive_wait (s)"),
        "max_wait_s": (1.0, "a frame no source serves by stamp + max_wait_s is dropped (s)"),
        "horizon_s": (3.0, "frames older than this are forgotten (s)"),
        "max_frames": (256, "most frames kept waiting at once"),
        "initial_source": ("edge", "active source at start: edge (until the cloud proves itself) or cloud"),
        "cloud_transport": ("compressed", "cloud labels as compressed (PNG CompressedImage) or raw (mono8 Image)"),
        "link_status_timeout_s": (3.0, "no link status for this long -> link state unknown (s)"),
        "source_silence_warn_s": (5.0, "warn when a source sends nothing this long while frames arrive (s)"),
        "overlay_alpha": (0.5, "mask opacity in the overlay, 0..1"),
        "publish_color_mask": (True, "publish segmentation/color_mask"),
        "publish_overlay": (True, "publish segmentation/overlay"),
    }

    def __init__(self):
        super().__init__("segmentation_arbiter")
        p = self.params
        if p["cloud_transport"] not in ("compressed", "raw"):
            raise ValueError(f"cloud_transport '{p['cloud_transport']}' is not one of compressed, raw")
        if not 0.0 <= p["overlay_alpha"] <= 1.0:
            raise ValueError(f"overlay_alpha {p['overlay_alpha']} must be within 0..1")
        require_positive(p, "link_status_timeout_s")
        self._arbiter = FrameArbiter(ArbiterConfig(
            deadline_s=p["deadline_s"], failover_s=p["failover_s"], handback_after=p["handback_after"],
            handback_s=p["handback_s"], max_wait_s=p["max_wait_s"], adaptive_wait=p["adaptive_wait"],
            wait_margin_s=p["wait_margin_s"], horizon_s=p["horizon_s"],
            max_frames=p["max_frames"], initial_source=p["initial_source"]))
        self._models = {source: "" for source in SOURCES}   # each source's LabelInfo.model, once heard
        self._link_seen: float | None = None
        self._camera_size: tuple[int, int] | None = None
        self._warned: set[str] = set()
        self._last_result = {source: self._now() for source in SOURCES}
        self._silent: set[str] = set()
        self._edge_expected_since = self._now()   # when the link last left GOOD

        self._labels_pub = self.create_publisher(Image, "segmentation/labels", qos.PUBLISH)
        self._mask_pub = (self.create_publisher(Image, "segmentation/color_mask", qos.PUBLISH)
                          if p["publish_color_mask"] else None)
        self._overlay_pub = (self.create_publisher(Image, "segmentation/overlay", qos.PUBLISH)
                             if p["publish_overlay"] else None)
        self._status_pub = self.create_publisher(SegmentationStatus, "segmentation/status", qos.PUBLISH)
        info_pub = self.create_publisher(LabelInfo, "segmentation/label_info", qos.LATCHED)
        info_pub.publish(cityscapes_label_info(self.now_msg(), ""))

        self.subscribe_frames("camera/image_raw", self._on_camera, qos.QUEUED_FRAMES)
        if p["cloud_transport"] == "compressed":
            cloud = self.create_subscription(CompressedImage, "cloud/segmentation/labels/compressed",
                                             self._on_cloud_png, qos.RESULTS)
        else:
            cloud = self.create_subscription(Image, "cloud/segmentation/labels",
                                             lambda m: self._on_labels(CLOUD, m), qos.RESULTS)
        edge = self.create_subscription(Image, "edge/segmentation/labels",
                                        lambda m: self._on_labels(EDGE, m), qos.RESULTS)
        for source in SOURCES:
            self.create_subscription(LabelInfo, f"{source}/segmentation/label_info",
                                     lambda m, s=source: self._on_label_info(s, m), qos.LATCHED)
        self.create_subscription(LinkStatus, "link/status", self._on_link, qos.LATCHED)
        self.create_subscription(FrameSelection, "camera/image_raw/h264/selection", self._on_selection,
                                 qos.PACKETS)
        self.create_subscription(AdaptationState, "link/adaptation", self._on_adaptation, qos.LATCHED)
        # Decisions happen on arrivals and at the arbiter's next deadline: a timer re-armed for
        # that instant, instead of a fixed-rate check that costs CPU while nothing is due.
        self._timer = self.create_timer(1.0, self._poll, autostart=False)
        self.get_logger().info(
            f"choosing per frame between {cloud.topic_name} (deadline {p['deadline_s']:g} s) and "
            f"{edge.topic_name}; publishing {self._labels_pub.topic_name}; active source: "
            f"{self._arbiter.active}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warn(text)

    # ---- inputs -------------------------------------------------------------------------------
    def _on_camera(self, msg: Image) -> None:
        if self.rgb_or_none(msg) is None:  # no labels can be sized or overlaid for it
            return
        self._camera_size = (msg.width, msg.height)
        self._check_silence()
        self._arbiter.add_frame(stamp_seconds(msg.header.stamp), msg, self._now())
        self._poll()

    def _on_cloud_png(self, msg: CompressedImage) -> None:
        if "png" not in msg.format.lower():
            self.log_problem(f"dropping cloud labels: format '{msg.format}' is not PNG")
            return
        try:
            labels = png_to_labels(bytes(msg.data))
        except ValueError as exc:
            self.log_problem(f"dropping cloud labels: {exc}")
            return
        self._add(CLOUD, msg.header, labels)

    def _on_labels(self, source: str, msg: Image) -> None:
        try:
            labels = image_to_mono(msg)
        except ValueError as exc:
            self.log_problem(f"dropping {source} labels: {exc}")
            return
        self._add(source, msg.header, labels)

    def _add(self, source: str, header, labels: np.ndarray) -> None:
        if labels.size and labels.max() >= NUM_CLASSES:
            bad = (labels >= NUM_CLASSES) & (labels != IGNORE_ID)
            if bad.any():
                self._warn_once(f"ids-{source}", f"{source} labels hold class ids outside 0..{NUM_CLASSES - 1} "
                                                 f"and {IGNORE_ID}; publishing them as {IGNORE_ID} (unlabeled)")
                labels = labels.copy()
                labels[bad] = IGNORE_ID
        now = self._now()
        self._last_result[source] = now
        if source in self._silent:
            self._silent.discard(source)
            self.get_logger().info(f"{source} results arrive again")
        self._arbiter.add_result(source, stamp_seconds(header.stamp), (labels, header), now)
        self._poll()

    def _on_label_info(self, source: str, msg: LabelInfo) -> None:
        if msg.model != self._models[source]:
            self.get_logger().info(f"{source} labels come from {msg.model or 'an unnamed model'}")
        self._models[source] = msg.model
        if not is_cityscapes(msg):
            self._warn_once(f"info-{source}", f"{source} label_info does not list the {NUM_CLASSES} Cityscapes "
                                              f"classes in train-id order; its labels mean something else")

    def _on_selection(self, msg: FrameSelection) -> None:
        if msg.decision in (FrameSelection.SKIPPED, FrameSelection.RATE):
            self._arbiter.frame_not_sent(stamp_seconds(msg.header.stamp), self._now())
            self._poll()

    def _on_adaptation(self, msg: AdaptationState) -> None:
        reason = msg.reason or "the lowest rung does not fit the link"
        self._arbiter.hold_edge(reason if msg.use_edge else "", self._now())
        self._poll()

    def _on_link(self, msg: LinkStatus) -> None:
        now = self._now()
        self._link_seen = now
        if self._arbiter.link_state == LinkStatus.GOOD and msg.state != LinkStatus.GOOD:
            self._edge_expected_since = now
        if msg.state != self._arbiter.link_state:
            self.get_logger().info(f"link {msg.state_name or msg.state}: {msg.reason}")
        self._arbiter.set_link(int(msg.state), now)
        self._poll()

    def _check_silence(self) -> None:
        """Say so when a source goes quiet while frames come in: without its results there is
        nothing to fall back on (edge) or nothing to prefer (cloud). An on_demand edge idles
        while the link is GOOD, so the edge only counts as silent while it is not."""
        now, limit = self._now(), self.params["source_silence_warn_s"]
        link = self._arbiter.link_state
        for source in SOURCES:
            since = self._last_result[source]
            if source == EDGE:
                if link == LinkStatus.GOOD:
                    continue
                since = max(since, self._edge_expected_since)
            if source in self._silent or now - since <= limit:
                continue
            self._silent.add(source)
            self.get_logger().warn(f"no {source} results for {now - since:.1f} s while camera frames arrive "
                                   f"(link {STATE_NAMES.get(link, 'unknown')})")

    # ---- decisions ----------------------------------------------------------------------------
    def _poll(self) -> None:
        now = self._now()
        if (self._link_seen is not None and self._arbiter.link_state is not None
                and now - self._link_seen > self.params["link_status_timeout_s"]):
            self.get_logger().warn(f"no link status for {now - self._link_seen:.1f} s: link state unknown")
            if self._arbiter.link_state == LinkStatus.GOOD:
                self._edge_expected_since = now
            self._arbiter.set_link(None, now)
        for decision in self._arbiter.poll(now):
            self._publish(decision)
        for switch in self._arbiter.take_switches():
            self.get_logger().warn(f"source {switch.old} -> {switch.new}: {switch.reason}")
        self._arm(now)

    def _arm(self, now: float) -> None:
        due = self._arbiter.next_due(now)
        if self._link_seen is not None and self._arbiter.link_state is not None:
            stale = self._link_seen + self.params["link_status_timeout_s"]
            due = stale if due is None else min(due, stale)
        if due is None:
            self._timer.cancel()
            return
        self._timer.timer_period_ns = max(1_000_000, int((due - now) * 1e9) + 500_000)
        self._timer.reset()

    def _publish(self, decision) -> None:
        labels, result_header = decision.labels
        frame: Image | None = decision.frame
        header = frame.header if frame is not None else result_header
        size = (frame.width, frame.height) if frame is not None else self._camera_size
        if size is not None and (labels.shape[1], labels.shape[0]) != size:
            self._warn_once(f"size-{decision.source}-{labels.shape}",
                            f"{decision.source} labels are {labels.shape[1]}x{labels.shape[0]}, the camera "
                            f"{size[0]}x{size[1]}: resizing them (nearest)")
            labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
        self.publish(self._labels_pub, array_to_image(labels, header, "mono8"))
        if self._mask_pub is not None:
            self.publish(self._mask_pub, array_to_image(colorize(labels), header, "rgb8"))
        if self._overlay_pub is not None and frame is not None:
            try:
                rgb = image_to_rgb(frame)
            except ValueError as exc:
                self.log_problem(f"no overlay for this frame: {exc}")
            else:
                if rgb.shape[:2] == labels.shape:
                    blended = overlay(rgb, labels, self.params["overlay_alpha"])
                    self.publish(self._overlay_pub, array_to_image(blended, header, "rgb8"))
        link = self._arbiter.link_state
        status = SegmentationStatus(
            header=header, source=decision.source, active_source=decision.active,
            model=self._models[decision.source], reused=decision.reused,
            latency_ms=float((self._now() - stamp_seconds(header.stamp)) * 1000.0),
            link_state=LINK_UNKNOWN if link is None else int(link))
        self.publish(self._status_pub, status)


def main(args=None):
    run(SegmentationArbiterNode, args)
