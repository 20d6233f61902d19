"""H.264 decoder node: <image>/h264 packets -> Image + CameraInfo; asks for a keyframe when it
cannot decode.

Each decoded image is published with a camera_info of the same header, as a camera driver
publishes its pair: width and height are the original image's (from the packet), binning_x/y how
many times smaller the decoded image is (1 unless the edge sends a downscaled stream), so a
subscriber knows the camera's size, e.g. to return results at it. The calibration is not sent,
so K, D, R and P are zero ("uncalibrated").
"""
from __future__ import annotations

from sensor_msgs.msg import CameraInfo, Image
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
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", qos.PUBLISH)
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
        self.publish(self._info_pub, camera_info(msg, image.width, image.height))
        if self.publish(self._image_pub, image):
            self.report_timing(msg.header, received, started, handed, len(image.data))


def camera_info(packet: H264Packet, width: int, height: int) -> CameraInfo:
    """The camera_info of a ``width`` x ``height`` image decoded from ``packet``."""
    full_w, full_h = (packet.width, packet.height) if packet.width > 0 and packet.height > 0 else (width, height)
    return CameraInfo(header=packet.header, width=full_w, height=full_h,
                      binning_x=max(1, round(full_w / width)), binning_y=max(1, round(full_h / height)))


def main(args=None):
    run(H264DecoderNode, args)
