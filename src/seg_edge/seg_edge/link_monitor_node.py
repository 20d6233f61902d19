"""Link monitor (edge side): says whether the cloud's segmentation can be relied on right now.

Sends a LinkProbe on link/probe at `probe_rate` Hz; the cloud's link_probe_responder echoes it on
link/probe_reply with the H.264 it received. From the replies, the H.264 this robot publishes on
camera/image_raw/h264 and the stamps of cloud results (cloud/segmentation/labels/compressed, or
cloud/segmentation/labels with cloud_results:=raw) a seg_core.edge.link.LinkEstimator computes RTT,
loss, sent vs delivered video and result age, and a GOOD/DEGRADED/DOWN state with hysteresis.
The state is the link's alone: cloud results later than `max_result_age_s` set `cloud_late` (with
its reason) and leave the state as it is, so a slow cloud on a busy host does not read as a dead link.

Publishes link/status (LinkStatus, latched) at `status_rate` Hz and on every state change (each
change is logged at WARN with its reason), and /diagnostics (one DiagnosticStatus "seg/link":
OK/WARN/ERROR for GOOD/DEGRADED/DOWN, at least WARN while the cloud is late, key-values rtt_ms,
loss, sent_kbps, delivered_kbps, result_age_ms, cloud_late).

Link health comes only from probes and data, never from DDS discovery or liveliness: across a WAN
the topics travel over a bridge whose endpoints stay "alive" while the far side is gone.
"""
from __future__ import annotations

import math
import os
import secrets

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from seg_core.edge.link import DEGRADED, DOWN, GOOD, STATE_NAMES, LinkConfig, LinkEstimator
from seg_interfaces.msg import H264Packet, LinkProbe, LinkStatus
from seg_ros import qos
from seg_ros.diagnostics import ERROR, OK, WARN, diagnostic_array
from seg_ros.node import PipelineNode, run, stamp_seconds
from seg_ros.parameters import require_positive

DIAG_LEVELS = {GOOD: OK, DEGRADED: WARN, DOWN: ERROR}


class LinkMonitorNode(PipelineNode):
    STAGE = "link_monitor"
    PARAMETERS = {
        "probe_rate": (10.0, "probes sent per second"),
        "status_rate": (2.0, "link/status and /diagnostics publications per second (plus one per change)"),
        "cloud_results": ("compressed", "which cloud result topic to watch for result age: compressed | raw"),
        "window_s": (5.0, "RTT median and probe loss are taken over this window (s)"),
        "probe_timeout_s": (1.0, "a probe unanswered this long counts as lost (s)"),
        "down_after_s": (1.5, "no probe reply for this long -> DOWN (s)"),
        "max_result_age_s": (2.0, "newest cloud result older than this while sending video -> cloud_late (s); 0 = off"),
        "degraded_rtt_ms": (300.0, "RTT median above this -> DEGRADED (ms)"),
        "degraded_loss": (0.2, "probe loss fraction above this -> DEGRADED (0..1)"),
        "min_delivery_ratio": (0.5, "cloud-received / edge-sent video below this -> DEGRADED (0..1)"),
        "min_sent_kbps": (50.0, "judge the delivery ratio only when sending at least this (kbit/s)"),
        "recover_s": (2.0, "better conditions must hold this long before the state improves (s)"),
        "clear_fraction": (0.8, "a DEGRADED condition clears only below this fraction of its threshold"),
    }

    def __init__(self):
        super().__init__("link_monitor")
        p = self.params
        require_positive(p, "probe_rate", "status_rate")
        if p["cloud_results"] not in ("compressed", "raw"):
            raise ValueError(f"cloud_results '{p['cloud_results']}' is not one of compressed, raw")
        config = LinkConfig(
            window_s=p["window_s"], probe_timeout_s=p["probe_timeout_s"], down_after_s=p["down_after_s"],
            max_result_age_s=p["max_result_age_s"], degraded_rtt_s=p["degraded_rtt_ms"] / 1000.0,
            degraded_loss=p["degraded_loss"], min_delivery_ratio=p["min_delivery_ratio"],
            min_sent_kbps=p["min_sent_kbps"], recover_s=p["recover_s"], clear_fraction=p["clear_fraction"])
        self._est = LinkEstimator(config)  # validates: a bad threshold is a ValueError -> clear exit
        # Replies are matched by sender id: another robot's or an earlier run's replies are ignored.
        self._sender = f"{self.get_fully_qualified_name()}#{os.getpid()}-{secrets.token_hex(3)}"
        self._seq = 0
        self._foreign_replies = 0
        self._probe_pub = self.create_publisher(LinkProbe, "link/probe", qos.PROBES)
        self._status_pub = self.create_publisher(LinkStatus, "link/status", qos.LATCHED)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(LinkProbe, "link/probe_reply", self._on_reply, qos.PROBES)
        self.create_subscription(H264Packet, "camera/image_raw/h264", self._on_packet, qos.PACKETS)
        if p["cloud_results"] == "compressed":
            results = self.create_subscription(CompressedImage, "cloud/segmentation/labels/compressed",
                                               self._on_result, qos.RESULTS)
        else:
            results = self.create_subscription(Image, "cloud/segmentation/labels", self._on_result, qos.RESULTS)
        self._last_state: int | None = None
        self._cloud_late = ""
        self.create_timer(1.0 / p["probe_rate"], self._send_probe)
        self.create_timer(1.0 / p["status_rate"], self._publish_status)
        self.get_logger().info(
            f"probing on {self._probe_pub.topic_name} at {p['probe_rate']:g} Hz; cloud results from "
            f"{results.topic_name}; status on {self._status_pub.topic_name}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- inputs -------------------------------------------------------------------------------
    def _send_probe(self) -> None:
        now = self.now_msg()
        probe = LinkProbe(header=Header(stamp=now, frame_id=self._sender), seq=self._seq)
        if self.publish(self._probe_pub, probe):
            self._est.probe_sent(self._seq, stamp_seconds(now))
        self._seq += 1
        self._update(publish_always=False)

    def _on_reply(self, msg: LinkProbe) -> None:
        if msg.header.frame_id != self._sender:
            self._foreign_replies += 1
            return
        kbps = float(msg.cloud_video_kbps)
        self._est.reply_received(msg.seq, self._now(), kbps if math.isfinite(kbps) else None,
                                 float(msg.cloud_padding_kbps))

    def _on_packet(self, msg: H264Packet) -> None:
        self._est.video_sent(len(msg.data), self._now())

    def _on_result(self, msg) -> None:
        stamp = stamp_seconds(msg.header.stamp)
        now = self._now()
        if stamp <= 0 or stamp > now + 5.0:
            self.get_logger().warn(f"ignoring a cloud result stamped {stamp:.3f} (now {now:.3f}): "
                                   "not a camera stamp of this clock", throttle_duration_sec=5.0)
            return
        self._est.cloud_result(stamp, now)

    # ---- outputs ------------------------------------------------------------------------------
    def _publish_status(self) -> None:
        self._update(publish_always=True)

    def _update(self, publish_always: bool) -> None:
        snap = self._est.update(self._now())
        if snap.changed:
            old = STATE_NAMES[snap.previous] if snap.previous is not None else "?"
            self.get_logger().warn(f"link {old} -> {snap.state_name}: {snap.reason}")
        if bool(snap.cloud_late) != bool(self._cloud_late):
            self.get_logger().warn(f"cloud late: {snap.cloud_late}" if snap.cloud_late
                                   else "cloud results on time again")
        self._cloud_late = snap.cloud_late
        if not (publish_always or snap.changed or self._last_state is None):
            return
        self._last_state = snap.state
        header = Header(stamp=self.now_msg(), frame_id=self._sender.split("#")[0])
        status = LinkStatus(
            header=header, state=snap.state, state_name=snap.state_name,
            rtt_ms=snap.rtt_s * 1000.0, loss=snap.loss, rtt_recent_ms=snap.rtt_recent_s * 1000.0,
            loss_recent=snap.loss_recent, sent_video_kbps=snap.sent_kbps,
            delivered_video_kbps=snap.delivered_kbps, delivered_padding_kbps=snap.delivered_padding_kbps,
            result_age_ms=snap.result_age_s * 1000.0,
            cloud_late=bool(snap.cloud_late), reason=snap.reason)
        self.publish(self._status_pub, status)
        values = {"state": snap.state_name, "rtt_ms": f"{snap.rtt_s * 1000.0:.1f}", "loss": f"{snap.loss:.3f}",
                  "sent_kbps": f"{snap.sent_kbps:.0f}", "delivered_kbps": f"{snap.delivered_kbps:.0f}",
                  "result_age_ms": f"{snap.result_age_s * 1000.0:.0f}", "cloud_late": snap.cloud_late or "no"}
        level = max(DIAG_LEVELS[snap.state], WARN if snap.cloud_late else OK)
        late = f"; cloud late: {snap.cloud_late}" if snap.cloud_late else ""
        self.publish(self._diag_pub, diagnostic_array(header, level, "seg/link",
                                                      f"{snap.state_name}: {snap.reason}{late}", values))


def main(args=None):
    run(LinkMonitorNode, args)
