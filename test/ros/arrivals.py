"""Prints one JSON line per message on the segmentation outputs, the cloud results, the link status
and the link adaptation.

Run inside a test host (network namespace) where the test process itself cannot join DDS:
    python arrivals.py  ->  {"topic": "labels", "t": <wall s>, "stamp": <s>, ...}
"""
import json
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from sensor_msgs.msg import CompressedImage, Image

from seg_interfaces.msg import AdaptationState, LinkStatus, SegmentationStatus
from seg_ros import qos
from seg_ros.node import stamp_seconds


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("arrivals")

    def emit(topic: str, msg, **extra) -> None:
        print(json.dumps({"topic": topic, "t": time.time(), "stamp": stamp_seconds(msg.header.stamp), **extra}),
              flush=True)

    node.create_subscription(Image, "/segmentation/labels", lambda m: emit("labels", m), qos.PACKETS)
    node.create_subscription(CompressedImage, "/cloud/segmentation/labels/compressed",
                             lambda m: emit("cloud", m), qos.PACKETS)
    node.create_subscription(SegmentationStatus, "/segmentation/status",
                             lambda m: emit("status", m, source=m.source, active=m.active_source,
                                            reused=m.reused), qos.PACKETS)
    node.create_subscription(LinkStatus, "/link/status",
                             lambda m: emit("link", m, state=m.state_name, reason=m.reason,
                                            sent_kbps=round(m.sent_video_kbps, 1),
                                            delivered_kbps=round(m.delivered_video_kbps, 1),
                                            rtt_recent_ms=round(m.rtt_recent_ms, 1)), qos.LATCHED)
    node.create_subscription(AdaptationState, "/link/adaptation",
                             lambda m: emit("adaptation", m, rung=m.rung_index, name=m.rung, use_edge=m.use_edge,
                                            probe_kbps=round(m.probe_kbps, 1), reason=m.reason), qos.LATCHED)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
