"""Segmentation node: Image -> labels (mono8), color_mask (rgb8), overlay (rgb8) and label_info.

Runs any model of the seg_core registry; the cloud runs DeepLabV3, the edge runs ENet.
labels/compressed carries the labels as PNG (sensor_msgs/CompressedImage), a few kB instead of
width*height bytes, for links where bandwidth counts.

Labels are published from the inference callback; the extras (PNG, color mask, overlay) are made
by a worker thread so the model starts on the next frame at once, and each only while something
subscribes to it (like image_transport's lazy publishers). The worker is at most two frames
behind; beyond that the inference callback waits for it, so no extra is ever dropped.
"""
from __future__ import annotations

import queue
import threading

from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from seg_core.classes import CITYSCAPES_CLASSES, colorize, overlay
from seg_core.inference import Segmenter
from seg_interfaces.msg import LabelInfo, VisionClass

from . import qos
from .images import array_to_image, labels_to_png
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
        if not 0.0 <= p["overlay_alpha"] <= 1.0:
            raise ValueError(f"overlay_alpha {p['overlay_alpha']} must be within 0..1")
        if (p["input_width"] > 0) != (p["input_height"] > 0) or min(p["input_width"], p["input_height"]) < 0:
            raise ValueError("input_width and input_height must both be > 0, or both 0 for the checkpoint's size")
        input_size = (p["input_width"], p["input_height"]) if p["input_width"] > 0 else None
        self._segmenter = Segmenter(p["model"], weights=p["weights"] or None, device=p["device"],
                                    input_size=input_size, backend=p["backend"],
                                    threads=p["threads"] or None)
        if self._segmenter.untrained:
            self.get_logger().error(
                f"MODEL {p['model']} HAS NO TRAINED WEIGHTS: its labels are noise. "
                "Train it (python -m seg_core.train) or set the weights parameter.")
        self.create_subscription(Image, "image", self._on_image, qos.LATEST_FRAME)
        self._labels_pub = self.create_publisher(Image, "labels", qos.PUBLISH)
        self._mask_pub = self.create_publisher(Image, "color_mask", qos.PUBLISH) if p["publish_color_mask"] else None
        self._overlay_pub = self.create_publisher(Image, "overlay", qos.PUBLISH) if p["publish_overlay"] else None
        self._png_pub = (self.create_publisher(CompressedImage, f"{self._labels_pub.topic_name}/compressed",
                                               qos.PUBLISH) if p["publish_compressed_labels"] else None)
        info_pub = self.create_publisher(LabelInfo, "label_info", qos.LATCHED)
        info_pub.publish(LabelInfo(
            header=Header(stamp=self.now_msg()), threshold=0.0,
            class_map=[VisionClass(class_id=i, class_name=n) for i, n in enumerate(CITYSCAPES_CLASSES)]))
        self._extras: queue.Queue = queue.Queue(maxsize=2)
        self._extras_worker: threading.Thread | None = threading.Thread(target=self._extras_loop, name="extras", daemon=True)
        self._extras_worker.start()
        self.get_logger().info(
            f"segmenting with {self._segmenter.model_name} on {self._segmenter.device} "
            f"({p['backend']}) at {self._segmenter.input_size[0]}x{self._segmenter.input_size[1]}")

    def should_process(self) -> bool:
        """Whether to segment the next image; subclasses may skip work (e.g. a standby model)."""
        return True

    def _on_image(self, msg: Image, info) -> None:
        if not self.should_process():
            return
        received, started = received_at(info), self.now_msg()
        rgb = self.rgb_or_none(msg)
        if rgb is None:
            return
        labels = self._segmenter.predict(rgb)
        labels_msg = array_to_image(labels, msg.header, "mono8")
        handed = self.now_msg()
        self.publish(self._labels_pub, labels_msg)
        self.report_timing(msg.header, received, started, handed, labels.nbytes)
        if any(self._wanted(pub) for pub in (self._png_pub, self._mask_pub, self._overlay_pub)):
            self._extras.put((msg.header, rgb, labels))

    @staticmethod
    def _wanted(publisher) -> bool:
        return publisher is not None and publisher.get_subscription_count() > 0

    def _extras_loop(self) -> None:
        while (item := self._extras.get()) is not None:
            header, rgb, labels = item
            try:
                if self._wanted(self._png_pub):
                    self.publish(self._png_pub, CompressedImage(header=header, format="mono8; png compressed",
                                                                data=labels_to_png(labels)))
                if self._wanted(self._mask_pub):
                    self.publish(self._mask_pub, array_to_image(colorize(labels), header, "rgb8"))
                if self._wanted(self._overlay_pub):
                    blended = overlay(rgb, labels, self.params["overlay_alpha"])
                    self.publish(self._overlay_pub, array_to_image(blended, header, "rgb8"))
            except Exception as exc:  # a bad frame must not end the worker (and with it the extras)
                self.get_logger().error(f"no PNG/mask/overlay for this frame: {exc}", throttle_duration_sec=5.0)

    def destroy_node(self):
        if getattr(self, "_extras_worker", None) is not None:   # None: the constructor failed before it
            self._extras.put(None)
            self._extras_worker.join(timeout=5.0)
        return super().destroy_node()
