"""Camera node: publishes frames from a generated scene, video file, image folder or V4L2 device."""
from __future__ import annotations

import math

from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from seg_core.data.sources import SourceConfig, open_source
from seg_ros import qos
from seg_ros.images import array_to_image
from seg_ros.node import PipelineNode, run


class CameraNode(PipelineNode):
    STAGE = "camera"
    PARAMETERS = {
        "source": ("generated", "generated | video | folder | v4l2"),
        "uri": ("", "video file, image folder or V4L2 device (/dev/video0 or 0)"),
        "width": (640, "published image width in pixels"),
        "height": (480, "published image height in pixels"),
        "rate": (30.0, "frames per second"),
        "loop": (True, "start over at the end of a video, folder or generated sequence"),
        "seed": (0, "generated scene: sequence seed"),
        "frame_id": ("camera", "frame_id of published images"),
        "horizontal_fov_deg": (90.0, "horizontal field of view used for camera_info"),
        "publish_ground_truth": (True, "generated scene: publish per-frame labels on ground_truth"),
    }

    def __init__(self):
        super().__init__("camera")
        p = self.params
        self._cfg = SourceConfig(kind=p["source"], uri=p["uri"], width=p["width"], height=p["height"],
                                 rate=p["rate"], loop=p["loop"], seed=p["seed"])
        if not 1.0 <= p["horizontal_fov_deg"] <= 179.0:
            raise ValueError(f"horizontal_fov_deg {p['horizontal_fov_deg']} must be within 1..179")
        self._source = open_source(self._cfg)
        self._image_pub = self.create_publisher(
            Image, "image_raw", qos.PUBLISH)
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", qos.PUBLISH)
        self._truth_pub = None
        if p["publish_ground_truth"] and self._cfg.kind == "generated":
            self._truth_pub = self.create_publisher(
                Image, "ground_truth", qos.PUBLISH)
        self._info = self._camera_info(p["horizontal_fov_deg"])
        self._ended = False
        self.create_timer(1.0 / self._cfg.rate, self._tick)
        self.get_logger().info(
            f"publishing {self._cfg.kind} frames {self._cfg.width}x{self._cfg.height} "
            f"at {self._cfg.rate:g} Hz on {self._image_pub.topic_name}")

    def _camera_info(self, fov_deg: float) -> CameraInfo:
        w, h = self._cfg.width, self._cfg.height
        f = (w / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
        info = CameraInfo(width=w, height=h, distortion_model="plumb_bob", d=[0.0] * 5)
        info.k = [f, 0.0, w / 2.0, 0.0, f, h / 2.0, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [f, 0.0, w / 2.0, 0.0, 0.0, f, h / 2.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _tick(self) -> None:
        if self._ended:
            return
        stamp = self.now_msg()
        try:
            frame = self._source.read()
        except ValueError as exc:
            self.get_logger().error(f"skipping frame: {exc}", throttle_duration_sec=1.0)
            return
        if frame is None:
            self._ended = True
            self.get_logger().info("source ended; no more frames (set loop:=true to repeat)")
            return
        header = Header(stamp=stamp, frame_id=self.params["frame_id"])
        image = array_to_image(frame.rgb, header, "rgb8")
        handed = self.now_msg()
        self.publish(self._image_pub, image)
        self._info.header = header
        self.publish(self._info_pub, self._info)
        if self._truth_pub is not None and frame.labels is not None:
            self.publish(self._truth_pub, array_to_image(frame.labels, header, "mono8"))
        self.report_timing(header, stamp, stamp, handed, len(image.data))


def main(args=None):
    run(CameraNode, args)
