"""Segmentation node: Image -> labels (mono8), color_mask (rgb8), overlay (rgb8) and label_info.

Runs any model of the seg_core registry; the cloud runs DeepLabV3-MobileNetV3, the edge runs ENet.
labels/compressed carries the labels as PNG (sensor_msgs/CompressedImage), a few kB instead of
width*height bytes, for links where bandwidth counts.

Labels are published first; the extras (PNG, color mask, overlay) are made only while something
subscribes to them (like image_transport's lazy publishers).
"""
from __future__ import annotations

from sensor_msgs.msg import CompressedImage, Image

from seg_core.data.classes import colorize, overlay
from seg_interfaces.msg import LabelInfo

from . import qos
from .images import array_to_image, labels_to_png
from .label_info import cityscapes_label_info
from .node import PipelineNode, received_at


class SegmentationNode(PipelineNode):
    STAGE = "segmentation"
    PARAMETERS = {
        "model": ("deeplabv3_mobilenet_v3_large", "model name from the seg_core registry"),
        "weights": ("", "checkpoint file; empty = the weights shipped for the model"),
        "device": ("cpu", "cpu or cuda[:N]"),
        "backend": ("torch", "torch or onnx (ONNX Runtime)"),
        "input_width": (0, "width the model runs at; 0 = the checkpoint's"),
        "input_height": (0, "height the model runs at; 0 = the checkpoint's"),
        "threads": (0, "CPU threads for inference; 0 = library default"),
        "overlay_alpha": (0.5, "mask opacity in the overlay, 0..1"),
        "publish_color_mask": (True, "publish the colored mask"),
        "publish_overlay": (True, "publish the overlay"),
        "publish_compressed_labels": (True, "publish labels/compressed (PNG)"),
    }

    def __init__(self, name: str = "segmentation"):
        super().__init__(name)
        p = self.params
        self.check_parameters(p)
        input_size = (p["input_width"], p["input_height"]) if p["input_width"] > 0 else None
        from seg_core.models.inference import Segmenter  # torch: seconds to import, after the cheap checks
        self._segmenter = Segmenter(p["model"], weights=p["weights"] or None, device=p["device"],
                                    input_size=input_size, backend=p["backend"],
                                    threads=p["threads"] or None)
        if self._segmenter.untrained:
            self.get_logger().error(
                f"MODEL {p['model']} HAS NO TRAINED WEIGHTS: its labels are noise. "
                "Train it (python -m seg_core.train) or set the weights parameter.")
        self.subscribe_frames("image", self._on_image)
        self._labels_pub = self.create_publisher(Image, "labels", qos.PUBLISH)
        self._mask_pub = self.create_publisher(Image, "color_mask", qos.PUBLISH) if p["publish_color_mask"] else None
        self._overlay_pub = self.create_publisher(Image, "overlay", qos.PUBLISH) if p["publish_overlay"] else None
        self._png_pub = (self.create_publisher(CompressedImage, f"{self._labels_pub.topic_name}/compressed",
                                               qos.PUBLISH) if p["publish_compressed_labels"] else None)
        self._info_pub = self.create_publisher(LabelInfo, "label_info", qos.LATCHED)
        self.publish_label_info(p["model"])
        self.get_logger().info(
            f"segmenting with {self._segmenter.model_name} on {self._segmenter.device} "
            f"({p['backend']}) at {self._segmenter.input_size[0]}x{self._segmenter.input_size[1]}")

    def publish_label_info(self, model: str) -> None:
        """Latch the classes and the model producing the labels (the arbiter reports it per frame)."""
        self.publish(self._info_pub, cityscapes_label_info(self.now_msg(), model))

    def check_parameters(self, p: dict) -> None:
        """Raise ValueError for a bad value, before the (slow) model load; subclasses add theirs."""
        if not 0.0 <= p["overlay_alpha"] <= 1.0:
            raise ValueError(f"overlay_alpha {p['overlay_alpha']} must be within 0..1")
        if (p["input_width"] > 0) != (p["input_height"] > 0) or min(p["input_width"], p["input_height"]) < 0:
            raise ValueError("input_width and input_height must both be > 0, or both 0 for the checkpoint's size")

    def should_process(self) -> bool:
        """Whether to segment the next image; subclasses may skip work (e.g. a standby model)."""
        return True

    def segment(self, header, rgb):
        """(labels, the image they label) for an image, or None to drop it; subclasses may change
        the size (the image is the overlay's background)."""
        return self._segmenter.predict(rgb), rgb

    def _on_image(self, msg: Image, info) -> None:
        if not self.should_process():
            return
        received, started = received_at(info), self.now_msg()
        rgb = self.rgb_or_none(msg)
        if rgb is None:
            return
        result = self.segment(msg.header, rgb)
        if result is None:
            return
        labels, rgb = result
        labels_msg = array_to_image(labels, msg.header, "mono8")
        handed = self.now_msg()
        self.publish(self._labels_pub, labels_msg)
        self.report_timing(msg.header, received, started, handed, labels.nbytes)
        self._publish_extras(msg.header, rgb, labels)

    def _publish_extras(self, header, rgb, labels) -> None:
        if self.has_subscribers(self._png_pub):
            self.publish(self._png_pub, CompressedImage(header=header, format="mono8; png compressed",
                                                        data=labels_to_png(labels)))
        if self.has_subscribers(self._mask_pub):
            self.publish(self._mask_pub, array_to_image(colorize(labels), header, "rgb8"))
        if self.has_subscribers(self._overlay_pub):
            blended = overlay(rgb, labels, self.params["overlay_alpha"])
            self.publish(self._overlay_pub, array_to_image(blended, header, "rgb8"))
