"""Cloud segmentation node: DeepLabV3-MobileNetV3 (or any registry model) on decoded camera images, or, with
`super_resolution`, on decoded low-resolution frames super-resolved back to the camera's size
(CloudSeg: SR + ICNet, whose low-resolution branch can take the received frame, `lr_reuse`).

Labels come out at the camera's size with the camera's stamp: the size is the one the decoder's
camera_info for that frame gives (the original image's). image_sr (the super-resolved frame, for
RViz) is published only while something subscribes. A frame whose size the SR scale cannot map
onto the camera's is logged and dropped; missing SR weights are logged once and the frames are
upscaled bilinearly instead.
"""
from __future__ import annotations

from collections import OrderedDict

from sensor_msgs.msg import CameraInfo, Image

from seg_core.codec import resize_rgb
from seg_ros import qos
from seg_ros.images import array_to_image
from seg_ros.node import run
from seg_ros.segmentation import SegmentationNode

KEPT_CAMERA_INFOS = 60


def _stamp(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


class CloudSegmentationNode(SegmentationNode):
    PARAMETERS = {
        **SegmentationNode.PARAMETERS,
        "super_resolution": ("", "super-resolution model for a downscaled stream (carn_m_x4, carn_m_x2, "
                                 "carn_x4, carn_x2); empty: segment the decoded frame as it is"),
        "sr_weights": ("", "super-resolution checkpoint; empty = the weights shipped for the model"),
        "lr_reuse": (False, "give the model's low-resolution branch the received frame (icnet only)"),
    }

    def __init__(self):
        super().__init__("segmentation")
        from seg_core.models import sr_scale  # torch: imported after the cheap checks, as the base does
        from seg_core.models.super_resolution import LowResSegmenter
        p = self.params
        self._camera_sizes: OrderedDict[tuple[int, int], tuple[int, int]] = OrderedDict()
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos.PACKETS)
        self._low_res = None
        self._sr_pub = None
        if p["super_resolution"]:
            scale = sr_scale(p["super_resolution"])
            upscaler, upscaler_name = self._upscaler(p["super_resolution"])
            self._low_res = LowResSegmenter(self._segmenter, upscaler, scale, p["lr_reuse"])
            self.publish_label_info(f"{upscaler_name}+{p['model']}")
            self._sr_pub = self.create_publisher(Image, "image_sr", qos.PUBLISH)
            self.get_logger().info(f"upscaling x{scale} with {p['super_resolution']}"
                                   + (", low-resolution reuse" if p["lr_reuse"] else ""))

    def check_parameters(self, p: dict) -> None:
        super().check_parameters(p)
        if p["lr_reuse"] and not p["super_resolution"]:
            raise ValueError("lr_reuse needs super_resolution (it applies to a downscaled stream)")
        if p["super_resolution"]:
            from seg_core.models import sr_scale  # ValueError for an unknown name, before the model load
            sr_scale(p["super_resolution"])

    def _upscaler(self, model: str):
        """(upscale function, its name): the SR model, or bilinear when its weights are unusable."""
        from seg_core.models import WeightsError
        from seg_core.models.super_resolution import SuperResolver, interpolation_upscaler
        p = self.params
        try:
            return SuperResolver(model, p["sr_weights"] or None, p["device"]).upscale, model
        except WeightsError as exc:
            self.get_logger().error(f"super-resolution unavailable, upscaling bilinearly instead: {exc}")
            return interpolation_upscaler("bilinear"), "bilinear"

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_sizes[_stamp(msg.header)] = (msg.width, msg.height)
        while len(self._camera_sizes) > KEPT_CAMERA_INFOS:
            self._camera_sizes.popitem(last=False)

    def _camera_size(self, header) -> tuple[int, int] | None:
        """The frame's camera_info size, else the newest one seen, else None."""
        size = self._camera_sizes.get(_stamp(header))
        if size is None and self._camera_sizes:
            size = next(reversed(self._camera_sizes.values()))
        return size

    def segment(self, header, rgb):
        size = self._camera_size(header)
        if self._low_res is None:
            size = size or (rgb.shape[1], rgb.shape[0])
            return self._segmenter.predict(rgb, output_size=size), resize_rgb(rgb, *size)
        if size is None:  # a downscaled stream's target is the camera's size, never a guess
            self.log_problem("dropping frame: no camera_info yet, so the camera's size is unknown")
            return None
        try:
            labels, upscaled = self._low_res.predict(rgb, size)
        except ValueError as exc:
            self.log_problem(f"dropping frame: {exc}")
            return None
        if self.has_subscribers(self._sr_pub):
            self.publish(self._sr_pub, array_to_image(upscaled, header, "rgb8"))
        return labels, upscaled


def main(args=None):
    run(CloudSegmentationNode, args)
