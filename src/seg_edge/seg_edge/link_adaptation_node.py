"""Link adaptation (edge side): keeps the video on the rung of the profile ladder the link can carry.

Each link/status (LinkStatus, from link_monitor) goes with the padding this node sent and the
cloud results' latency (segmentation/status) into a seg_core.edge.adaptation.AdaptationController,
whose rung the node applies to the H.264 encoder through its parameters (`scale`, `bitrate`, `fps`:
the encoder restarts with a keyframe). On start it turns on the encoder's frame selector and gives
it the selector thresholds.

To probe for headroom before stepping up, the controller names the rate the link should carry; this
node tops the video up to it (what the link monitor saw the video send, plus padding) on
link/padding (LinkPadding), which the Zenoh bridge carries at a lower priority than the video and
drops first under congestion, so a probe cannot crowd out the video; the cloud's probe responder
counts what arrives. When even the lowest rung does not fit, link/adaptation says use_edge and the
arbiter keeps ENet active until it fits again.

Publishes link/adaptation (AdaptationState, latched) on every change and at `status_rate`, and
/diagnostics ("seg/adaptation": OK on the top rung, WARN below it, ERROR while the edge is held).
"""
from __future__ import annotations

import math
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from std_msgs.msg import Header

from seg_core.edge.adaptation import SHIPPED_LADDER, AdaptationConfig, AdaptationController, load_ladder
from seg_core.edge.rate import ByteRate
from seg_interfaces.msg import AdaptationState, LinkPadding, LinkStatus, SegmentationStatus
from seg_ros import qos
from seg_ros.diagnostics import ERROR, OK, WARN, diagnostic_array
from seg_ros.node import PipelineNode, run
from seg_ros.parameters import require_positive

class LinkAdaptationNode(PipelineNode):
    STAGE = "link_adaptation"
    PARAMETERS = {
        "ladder": ("", "profile ladder YAML (rungs of scale, bitrate, fps with measured kbit/s and mIoU); "
                       "empty = the ladder shipped with seg_core"),
        "encoder_node": ("h264_encoder", "the encoder node whose scale, bitrate and fps the rung sets"),
        "frame_selection": (True, "turn on the encoder's frame selector at start"),
        "padding_rate": (20.0, "probe padding messages per second while probing"),
        "status_rate": (1.0, "link/adaptation and /diagnostics publications per second (plus one per change)"),
    }

    def __init__(self):
        super().__init__("link_adaptation")
        p = self.params
        self._ladder = load_ladder(p["ladder"] or SHIPPED_LADDER)  # ValueError names the problem
        require_positive(p, "padding_rate", "status_rate")
        self._controller = AdaptationController(self._ladder, AdaptationConfig())
        self._decision = None
        self._link: LinkStatus | None = None
        self._cloud_latency = math.nan
        self._padding_sent = ByteRate(1.0)
        self._pending: set = set()       # parameter-service futures not answered yet
        self._encoder = AsyncParameterClient(self, p["encoder_node"])
        self._applied: tuple | None = None   # (scale, bitrate, fps, frame_selection) the encoder took
        self._state_pub = self.create_publisher(AdaptationState, "link/adaptation", qos.LATCHED)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._padding_pub = self.create_publisher(LinkPadding, "link/padding", qos.PROBES)
        self.create_subscription(LinkStatus, "link/status", self._on_link, qos.LATCHED)
        self.create_subscription(SegmentationStatus, "segmentation/status", self._on_result, qos.PUBLISH)
        self.create_timer(1.0 / p["padding_rate"], self._send_padding)
        self.create_timer(1.0 / p["status_rate"], self._publish_state)
        top = self._ladder[0]
        self.get_logger().info(
            f"{len(self._ladder)} rungs from {top.name} ({top.kbps:.0f} kbit/s, mIoU {top.miou:.3f}) to "
            f"{self._ladder[-1].name} ({self._ladder[-1].kbps:.0f} kbit/s); driving {p['encoder_node']}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- inputs -------------------------------------------------------------------------------
    def _on_result(self, msg: SegmentationStatus) -> None:
        if msg.source == "cloud" and not msg.reused:
            self._cloud_latency = msg.latency_ms / 1000.0

    def _on_link(self, msg: LinkStatus) -> None:
        self._link = msg
        now = self._now()
        sent = msg.sent_video_kbps + self._padding_sent.kbps(now)
        delivered = msg.delivered_video_kbps + (msg.delivered_padding_kbps
                                                if math.isfinite(msg.delivered_padding_kbps) else 0.0)
        previous = self._decision
        self._decision = self._controller.update(now, sent, delivered, msg.rtt_recent_ms / 1000.0,
                                                 msg.loss_recent, self._cloud_latency)
        if previous is None or self._decision.changed:
            self.get_logger().info(f"rung {self._rung().name}{' (edge held)' if self._decision.use_edge else ''}: "
                                   f"{self._decision.reason}")
            self._publish_state()
        self._apply()

    # ---- outputs ------------------------------------------------------------------------------
    def _rung(self):
        return self._ladder[self._decision.rung if self._decision is not None else 0]

    def _apply(self) -> None:
        """Give the encoder the rung's settings, once its parameter service answers."""
        rung = self._rung()
        wanted = (rung.scale, rung.bitrate, rung.fps, self.params["frame_selection"])
        if wanted == self._applied or self._pending or not self._encoder.services_are_ready():
            return
        future = self._encoder.set_parameters_atomically([
            Parameter("scale", value=float(rung.scale)), Parameter("bitrate", value=int(rung.bitrate)),
            Parameter("fps", value=float(rung.fps)), Parameter("frame_selection", value=wanted[3])])
        self._pending.add(future)
        future.add_done_callback(lambda f, w=wanted: self._applied_or_not(f, w))

    def _applied_or_not(self, future, wanted: tuple) -> None:
        self._pending.discard(future)
        response = future.result()
        if response is None or not response.result.successful:
            self.log_problem(f"{self.params['encoder_node']} refused the rung settings: "
                             f"{response.result.reason if response is not None else 'no answer'}")
            return
        self._applied = wanted

    def _padding_kbps(self) -> float:
        """Padding that tops the video up to the probe's target rate (0: not probing)."""
        d, link = self._decision, self._link
        if d is None or d.probe_target_kbps <= 0:
            return 0.0
        video = link.sent_video_kbps if link is not None and math.isfinite(link.sent_video_kbps) else 0.0
        return max(0.0, d.probe_target_kbps - video)

    def _send_padding(self) -> None:
        kbps = self._padding_kbps()
        if kbps <= 0:
            return
        nbytes = int(kbps * 1000 / 8 / self.params["padding_rate"])
        if self.publish(self._padding_pub, LinkPadding(header=Header(stamp=self.now_msg()), data=bytes(nbytes))):
            self._padding_sent.add(nbytes, self._now())

    def _publish_state(self) -> None:
        if self._decision is None:
            return
        d, rung, link, padding = self._decision, self._rung(), self._link, self._padding_kbps()
        header = Header(stamp=self.now_msg())
        state = AdaptationState(
            header=header, rung=rung.name, rung_index=d.rung, rungs=len(self._ladder), scale=float(rung.scale),
            bitrate=int(rung.bitrate), fps=float(rung.fps), rung_kbps=float(rung.kbps), use_edge=d.use_edge,
            probe_kbps=float(padding), sent_kbps=float(link.sent_video_kbps) if link else math.nan,
            delivered_kbps=float(link.delivered_video_kbps) if link else math.nan, reason=d.reason)
        self.publish(self._state_pub, state)
        level = ERROR if d.use_edge else WARN if d.rung > 0 else OK
        values = {"rung": rung.name, "rung_index": str(d.rung), "rung_kbps": f"{rung.kbps:.0f}",
                  "use_edge": str(d.use_edge).lower(), "probe_kbps": f"{padding:.0f}",
                  "encoder_settings_applied": str(self._applied is not None and self._applied[:3] ==
                                                  (rung.scale, rung.bitrate, rung.fps)).lower()}
        self.publish(self._diag_pub, diagnostic_array(header, level, "seg/adaptation", f"{rung.name}: {d.reason}",
                                                      values))


def main(args=None):
    run(LinkAdaptationNode, args)
