"""Watches a running pipeline: per-frame source, latency, bandwidth and accuracy, per-stage timing.

Every stage reports when it received a frame, began on it and handed its output on
(seg_interfaces/StageTiming on /seg/timing). A hand-off between two processes is measured from the
sender's hand-off to the receiver's start (both on this host's clock): it is transport and the wait
for the receiver's thread together, never negative. The middleware's own receive stamp is not
used: Fast DDS stamps a sample when its first fragment arrives, which for a frame split into
several fragments can precede the sender's clock reading.
"""
from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from seg_core.training.metrics import ConfusionMatrix
from seg_interfaces.msg import AdaptationState, LabelInfo, SegmentationStatus, StageTiming
from seg_ros import qos
from seg_ros.images import image_to_mono, image_to_rgb, labels_to_png

STAGES = ("camera", "h264_encoder", "h264_decoder", "segmentation")


def ns(t) -> int:
    """A builtin_interfaces/Time as integer nanoseconds."""
    return t.sec * 1_000_000_000 + t.nanosec


def _stats(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "n": 0}
    arr = np.asarray(values_ms)
    return {"median_ms": round(float(np.median(arr)), 2), "p95_ms": round(float(np.percentile(arr, 95)), 2),
            "n": int(arr.size)}


def _scores(frames: list["Frame"]) -> dict:
    """mIoU and pixel accuracy of scored frames, their confusions summed (None without any)."""
    cm = ConfusionMatrix()
    if frames:
        cm.matrix = np.sum([f.confusion for f in frames], axis=0)
    return {"frames_scored": len(frames),
            "miou": round(float(cm.miou()), 4) if frames else None,
            "pixel_accuracy": round(float(cm.pixel_accuracy()), 4) if frames else None}


@dataclass
class Frame:
    """What was seen of one output frame (stamp = the camera image's, ns)."""
    stamp: int
    arrival: int = 0                    # when its labels arrived here (ns, wall clock)
    source: str = ""                    # cloud | edge, from segmentation/status
    active: str = ""
    model: str = ""
    reused: bool = False                # the cloud labels of an earlier frame (this one was not sent)
    confusion: np.ndarray | None = None  # against the ground truth, when there was one
    labels_png: bytes = b""
    truth_png: bytes = b""
    overlay_jpg: bytes = b""


class PipelineObserver(Node):
    """Subscribes to /seg/timing, the ground truth, `outputs`/{labels,overlay,status} and
    /link/adaptation; keeps a Frame per output frame (up to `keep_frames`, with images when
    `keep_images`) and the adaptation states (arrival ns, AdaptationState), and summarize()s."""

    def __init__(self, outputs: str = "/segmentation", truth_topic: str = "/camera/ground_truth",
                 keep_images: bool = True, keep_frames: int = 5000, context=None):
        super().__init__("pipeline_observer", context=context)
        self.lock = threading.Lock()  # callbacks run on the executor thread; summarize() on the caller's
        self.timings: dict[int, dict[str, StageTiming]] = defaultdict(dict)
        self.frames: dict[int, Frame] = {}
        self._truth: dict[int, np.ndarray] = {}
        self.keep_images, self.keep_frames = keep_images, keep_frames
        self.watch_timing(self)
        self.create_subscription(Image, f"{outputs}/labels", self._on_labels, qos.PACKETS)
        self.create_subscription(SegmentationStatus, f"{outputs}/status", self._on_status, qos.PACKETS)
        self.create_subscription(Image, truth_topic, self._on_truth, qos.PACKETS)
        self.adaptation: list[tuple[int, AdaptationState]] = []
        self.create_subscription(AdaptationState, "/link/adaptation", self._on_adaptation, qos.LATCHED)
        if keep_images:
            self.create_subscription(Image, f"{outputs}/overlay", self._on_overlay, qos.PACKETS)
        # Each segmentation node announces its classes once its model is loaded.
        self.models_ready: set[str] = set()
        for source in ("cloud", "edge"):
            self.create_subscription(LabelInfo, f"/{source}/segmentation/label_info",
                                     lambda _, s=source: self.models_ready.add(s), qos.LATCHED)

    def watch_timing(self, node: Node) -> None:
        """Take stage timing from `node`'s DDS domain too (e.g. a cloud host's)."""
        node.create_subscription(StageTiming, "/seg/timing", self._on_timing, qos.PACKETS)

    def _frame(self, stamp: int) -> Frame:
        frame = self.frames.get(stamp)
        if frame is None:
            frame = self.frames[stamp] = Frame(stamp)
            while len(self.frames) > self.keep_frames:
                self.frames.pop(next(iter(self.frames)))
        return frame

    def _on_timing(self, msg: StageTiming) -> None:
        with self.lock:
            self.timings[ns(msg.header.stamp)][msg.stage] = msg

    def _on_status(self, msg: SegmentationStatus) -> None:
        with self.lock:
            frame = self._frame(ns(msg.header.stamp))
            frame.source, frame.active, frame.model = msg.source, msg.active_source, msg.model
            frame.reused = msg.reused

    def _on_adaptation(self, msg: AdaptationState) -> None:
        with self.lock:
            self.adaptation.append((self.get_clock().now().nanoseconds, msg))
            del self.adaptation[:-10000]

    def _on_truth(self, msg: Image) -> None:
        with self.lock:
            self._truth[ns(msg.header.stamp)] = image_to_mono(msg).copy()
            while len(self._truth) > 120:
                self._truth.pop(next(iter(self._truth)))

    def _on_labels(self, msg: Image) -> None:
        arrival = self.get_clock().now().nanoseconds
        labels = image_to_mono(msg)
        with self.lock:
            frame = self._frame(ns(msg.header.stamp))
            frame.arrival = arrival
            truth = self._truth.pop(frame.stamp, None)
            if truth is not None and truth.shape == labels.shape:
                cm = ConfusionMatrix()
                cm.update(labels, truth)
                frame.confusion = cm.matrix
                if self.keep_images:
                    frame.truth_png = labels_to_png(truth)
            if self.keep_images:
                frame.labels_png = labels_to_png(labels)

    def _on_overlay(self, msg: Image) -> None:
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(image_to_rgb(msg), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 85])
        with self.lock:
            self._frame(ns(msg.header.stamp)).overlay_jpg = jpg.tobytes() if ok else b""

    def reset(self) -> None:
        """Forget what was seen so far (after warm-up)."""
        with self.lock:
            self.timings.clear()
            self.frames.clear()

    def stages_timed(self) -> set[str]:
        """The stages whose timing has arrived since the last reset()."""
        with self.lock:
            return {stage for timing in self.timings.values() for stage in timing}

    def outputs(self) -> list[Frame]:
        """The frames whose labels arrived, in stamp order."""
        with self.lock:
            return sorted((f for f in self.frames.values() if f.arrival), key=lambda f: f.stamp)

    def summarize(self, duration_s: float, frames: list[Frame] | None = None) -> dict:
        """Frame counts, latency split per stage (ms), bandwidth, output rate and mIoU vs ground truth
        of `frames` (default: every output frame seen)."""
        frames = self.outputs() if frames is None else frames
        with self.lock:
            timings = dict(self.timings)
        split = defaultdict(list)
        for frame in frames:
            t = timings.get(frame.stamp, {})
            if frame.source == "edge" or not all(s in t for s in STAGES):   # the cloud path's split
                continue
            cam, enc, dec, seg = (t[s] for s in STAGES)
            parts = {
                "camera_capture_to_publish": ns(cam.output_published) - frame.stamp,
                "camera_to_encoder": ns(enc.processing_started) - ns(cam.output_published),
                "encode": ns(enc.output_published) - ns(enc.processing_started),
                "encoder_to_decoder": ns(dec.processing_started) - ns(enc.output_published),
                "decode": ns(dec.output_published) - ns(dec.processing_started),
                "decoder_to_segmentation": ns(seg.processing_started) - ns(dec.output_published),
                "inference_and_publish_labels": ns(seg.output_published) - ns(seg.processing_started),
                "segmentation_to_subscriber": frame.arrival - ns(seg.output_published),
            }
            for key, value in parts.items():
                split[key].append(value / 1e6)
            split["overhead_beyond_inference"].append(
                ((frame.arrival - frame.stamp) - (ns(seg.output_published) - ns(seg.processing_started))) / 1e6)
        produced = [t for t in timings.values() if "camera" in t]
        raw = sum(t["camera"].output_bytes for t in produced)
        sent = sum(t["h264_encoder"].output_bytes for t in produced if "h264_encoder" in t)
        raw_encoded = sum(t["camera"].output_bytes for t in produced if "h264_encoder" in t)
        scored = [f for f in frames if f.confusion is not None]
        return {
            "duration_s": round(duration_s, 2),
            "frames_in": len(produced),
            "frames_encoded": sum(1 for t in produced if "h264_encoder" in t),
            "frames_out": len(frames),
            "input_fps": round(len(produced) / duration_s, 2),
            "output_fps": round(len(frames) / duration_s, 2),
            "frames_by_source": dict(Counter(f.source for f in frames if f.source)),
            "end_to_end_latency": _stats([(f.arrival - f.stamp) / 1e6 for f in frames]),
            "stage_latency": {k: _stats(v) for k, v in split.items()},
            "bytes": {
                "raw_image_bytes": raw,
                "h264_bytes": sent,
                "h264_kbit_per_s": round(sent * 8 / duration_s / 1000, 1),
                "raw_mbit_per_s": round(raw * 8 / duration_s / 1e6, 1),
                "compression_ratio": round(raw_encoded / sent, 1) if sent else None,
            },
            "live_miou": {**_scores(scored), "by_source": {   # where /segmentation/status said
                source: _scores([f for f in scored if f.source == source])
                for source in sorted({f.source for f in scored if f.source})}},
        }
