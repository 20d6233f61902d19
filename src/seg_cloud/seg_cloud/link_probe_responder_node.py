"""Link probe responder (cloud side): echoes each link probe at once, with the video it receives.

link/probe (LinkProbe, best effort) in -> link/probe_reply (LinkProbe, best effort) out: the same
header and seq, `answered` = now on the cloud's clock, `cloud_video_kbps` = H.264 bytes received
on camera/image_raw/h264 and `cloud_padding_kbps` = the link adaptation's probe padding received on
link/padding, each over the last `video_window_s`, in kbit/s. The edge's link_monitor compares
that with what it sent.

Probes travel best effort on purpose: a probe is a datagram, and a reliable transport would
retransmit lost ones and hide the loss the monitor measures.
"""
from __future__ import annotations

import time

from seg_core.edge.rate import ByteRate
from seg_interfaces.msg import H264Packet, LinkPadding, LinkProbe
from seg_ros import qos
from seg_ros.node import PipelineNode, run
from seg_ros.parameters import require_positive


class LinkProbeResponderNode(PipelineNode):
    STAGE = "link_probe_responder"
    PARAMETERS = {
        "video_window_s": (1.0, "received H.264 is averaged over this window (seconds)"),
    }

    def __init__(self):
        super().__init__("link_probe_responder")
        require_positive(self.params, "video_window_s")
        self._video = ByteRate(self.params["video_window_s"])
        self._padding = ByteRate(self.params["video_window_s"])
        self._answered = 0
        self._reply_pub = self.create_publisher(LinkProbe, "link/probe_reply", qos.PROBES)
        self.create_subscription(LinkProbe, "link/probe", self._on_probe, qos.PROBES)
        packets = self.create_subscription(H264Packet, "camera/image_raw/h264", self._on_packet, qos.PACKETS)
        self.create_subscription(LinkPadding, "link/padding",
                                 lambda m: self._padding.add(len(m.data), time.monotonic()), qos.PROBES)
        self.get_logger().info(f"answering probes on {self._reply_pub.topic_name}; "
                               f"counting video on {packets.topic_name}")

    def _on_packet(self, msg: H264Packet) -> None:
        self._video.add(len(msg.data), time.monotonic())

    def _on_probe(self, msg: LinkProbe) -> None:
        now = time.monotonic()
        reply = LinkProbe(header=msg.header, seq=msg.seq, answered=self.now_msg(),
                          cloud_video_kbps=self._video.kbps(now), cloud_padding_kbps=self._padding.kbps(now))
        if self.publish(self._reply_pub, reply):
            self._answered += 1
            if self._answered == 1:
                self.get_logger().info(f"answered the first probe from {msg.header.frame_id or 'unknown'}")


def main(args=None):
    run(LinkProbeResponderNode, args)
