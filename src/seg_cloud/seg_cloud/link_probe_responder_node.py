"""Link probe responder (cloud side): echoes each link probe at once, with the video it receives.

link/probe (LinkProbe, best effort) in -> link/probe_reply (LinkProbe, best effort) out: the same
header and seq, `answered` = now on the cloud's clock, `cloud_video_kbps` = H.264 bytes received
on camera/image_raw/h264 over the last `video_window_s`, in kbit/s. The edge's link_monitor
compares that with what it sent.

Probes travel best effort on purpose: a probe is a datagram, and a reliable transport would
retransmit lost ones and hide the loss the monitor measures.
"""
from __future__ import annotations

import time
from collections import deque


from seg_interfaces.msg import H264Packet, LinkProbe
from seg_ros import qos
from seg_ros.node import PipelineNode, run



class LinkProbeResponderNode(PipelineNode):
    STAGE = "link_probe_responder"
    PARAMETERS = {
        "video_window_s": (1.0, "received H.264 is averaged over this window (seconds)"),
    }

    def __init__(self):
        super().__init__("link_probe_responder")
        if not self.params["video_window_s"] > 0:
            raise ValueError(f"video_window_s {self.params['video_window_s']} must be > 0")
        self._window = self.params["video_window_s"]
        self._bytes: deque[tuple[float, int]] = deque()
        self._total = 0
        self._answered = 0
        self._reply_pub = self.create_publisher(LinkProbe, "link/probe_reply", qos.PROBES)
        self.create_subscription(LinkProbe, "link/probe", self._on_probe, qos.PROBES)
        packets = self.create_subscription(H264Packet, "camera/image_raw/h264", self._on_packet, qos.PACKETS)
        self.get_logger().info(f"answering probes on {self._reply_pub.topic_name}; "
                               f"counting video on {packets.topic_name}")

    def _on_packet(self, msg: H264Packet) -> None:
        now = time.monotonic()
        n = len(msg.data)
        self._bytes.append((now, n))
        self._total += n
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._bytes and self._bytes[0][0] <= now - self._window:
            self._total -= self._bytes.popleft()[1]

    def _on_probe(self, msg: LinkProbe) -> None:
        self._trim(time.monotonic())
        reply = LinkProbe(header=msg.header, seq=msg.seq, answered=self.now_msg(),
                          cloud_video_kbps=float(self._total * 8 / 1000.0 / self._window))
        if self.publish(self._reply_pub, reply):
            self._answered += 1
            if self._answered == 1:
                self.get_logger().info(f"answered the first probe from {msg.header.frame_id or 'unknown'}")


def main(args=None):
    run(LinkProbeResponderNode, args)
