"""H.264 decoder node: <image>/h264 packets -> Image; asks for a keyframe when it cannot decode."""
from __future__ import annotations

from sensor_msgs.msg import Image
from std_msgs.msg import Header

from seg_core.codec import DecodeError, H264Decoder
from seg_interfaces.msg import H264Packet, KeyframeRequest
from seg_ros import qos
from seg_ros.images import array_to_image
from seg_ros.node import PipelineNode, received_at, run


class H264DecoderNode(PipelineNode):
    STAGE = "h264_decoder"
    PARAMETERS = {
        "keyframe_request_interval": (0.25, "seconds between repeated keyframe requests while waiting"),
    }

    def __init__(self):
        super().__init__("h264_decoder")
        if self.params["keyframe_request_interval"] <= 0.0:
            raise ValueError("keyframe_request_interval must be > 0")
        self._decoder = H264Decoder()
        sub = self.create_subscription(H264Packet, "packets", self._on_packet, qos.PACKETS)
        self._request_pub = self.create_publisher(
            KeyframeRequest, f"{sub.topic_name}/keyframe_request", qos.PUBLISH)
        self._image_pub = self.create_publisher(Image, "image", qos.PUBLISH)
        self._last_request = None
        self.get_logger().info(f"decoding {sub.topic_name} -> {self._image_pub.topic_name}")

    def _request_keyframe(self, reason: str) -> None:
        now = self.get_clock().now()
        interval = self.params["keyframe_request_interval"] * 1e9
        if self._last_request is not None and (now - self._last_request).nanoseconds < interval:
            return
        self._last_request = now
        self.get_logger().warning(f"requesting a keyframe: {reason}", throttle_duration_sec=1.0)
        self.publish(self._request_pub,
                     KeyframeRequest(header=Header(stamp=now.to_msg(), frame_id=self.get_fully_qualified_name()),
                                     reason=reason))

    def _on_packet(self, msg: H264Packet, info) -> None:
        received, started = received_at(info), self.now_msg()
        keyframe = bool(msg.flags & H264Packet.FLAG_KEYFRAME)
        try:
            rgb = self._decoder.decode(bytes(msg.data), keyframe=keyframe, pts=msg.pts)
        except DecodeError as exc:
            self._request_keyframe(f"packet pts {msg.pts}: {exc}")
            return
        image = array_to_image(rgb, msg.header, "rgb8")
        handed = self.now_msg()
        if self.publish(self._image_pub, image):
            self.report_timing(msg.header, received, started, handed, len(image.data))


def main(args=None):
    run(H264DecoderNode, args)
