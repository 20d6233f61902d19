"""Watches a running pipeline: per-stage timing, end-to-end latency, bandwidth and live mIoU."""
from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from seg_core.metrics import ConfusionMatrix
from seg_interfaces.msg import SegmentationStatus, StageTiming
from seg_ros import qos
from seg_ros.images import image_to_mono, image_to_rgb

STAGES = ("camera", "h264_encoder", "h264_decoder", "segmentation")


def _ns(t) -> int:
    return t.sec * 1_000_000_000 + t.nanosec


def _stats(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "n": 0}
    arr = np.asarray(values_ms)
    return {"median_ms": round(float(np.median(arr)), 2), "p95_ms": round(float(np.percentile(arr, 95)), 2),
            "n": int(arr.size)}


class PipelineObserver(Node):
    """Subscribes to /seg/timing, the ground truth and `outputs`/{labels,overlay,status}; summarize() reports."""

    def __init__(self, outputs: str = "/segmentation", truth_topic: str = "/camera/ground_truth",
                 keep_overlays: int = 300):
        super().__init__("pipeline_observer")
        self.lock = threading.Lock()  # callbacks run on the executor thread; summarize() on the caller's
        self.timings: dict[int, dict[str, StageTiming]] = defaultdict(dict)
        self.label_arrivals: dict[int, int] = {}
        self._truth: dict[int, np.ndarray] = {}
        self._truth_order: deque[int] = deque()
        self.confusion = ConfusionMatrix()
        self.scored = 0
        self.overlays: deque[tuple[int, np.ndarray]] = deque(maxlen=keep_overlays)
        self._predicted: dict[int, np.ndarray] = {}
        self.create_subscription(StageTiming, "/seg/timing", self._on_timing, qos.PACKETS)
        self.sources: Counter[str] = Counter()
        self.create_subscription(Image, f"{outputs}/labels", self._on_labels, qos.PACKETS)
        self.create_subscription(SegmentationStatus, f"{outputs}/status", self._on_status, qos.PACKETS)
        self.create_subscription(Image, truth_topic, self._on_truth, qos.PACKETS)
        if keep_overlays:
            self.create_subscription(Image, f"{outputs}/overlay", self._on_overlay, qos.LATEST_FRAME)

    def _on_timing(self, msg: StageTiming) -> None:
        with self.lock:
            self.timings[_ns(msg.header.stamp)][msg.stage] = msg

    def _on_status(self, msg: SegmentationStatus) -> None:
        with self.lock:
            self.sources[msg.source] += 1

    def _on_truth(self, msg: Image) -> None:
        with self.lock:
            stamp = _ns(msg.header.stamp)
            self._truth[stamp] = image_to_mono(msg).copy()
            self._truth_order.append(stamp)
            while len(self._truth_order) > 120:
                self._truth.pop(self._truth_order.popleft(), None)

    def _on_labels(self, msg: Image, info) -> None:
        with self.lock:
            stamp = _ns(msg.header.stamp)
            self.label_arrivals[stamp] = info["received_timestamp"]
            truth = self._truth.get(stamp)
            labels = image_to_mono(msg)
            if truth is not None and truth.shape == labels.shape:
                self.confusion.update(labels, truth)
                self.scored += 1
                self._predicted[stamp] = labels.copy()
                for old in [s for s in self._predicted if s not in self._truth]:
                    del self._predicted[old]

    def _on_overlay(self, msg: Image) -> None:
        with self.lock:
            self.overlays.append((_ns(msg.header.stamp), image_to_rgb(msg).copy()))

    def truth_for(self, stamp: int) -> np.ndarray | None:
        return self._truth.get(stamp)

    def predicted_for(self, stamp: int) -> np.ndarray | None:
        return self._predicted.get(stamp)

    def reset(self) -> None:
        """Forget what was seen so far (after warm-up)."""
        with self.lock:
            self.timings.clear()
            self.label_arrivals.clear()
            self.confusion = ConfusionMatrix()
            self.scored = 0
            self.sources.clear()

    def summarize(self, duration_s: float) -> dict:
        """Frame counts, latency split per stage (ms), bandwidth, output rate and mIoU vs ground truth."""
        with self.lock:
            return self._summarize(duration_s)

    def _summarize(self, duration_s: float) -> dict:
        produced = [t for t in self.timings.values() if "camera" in t]
        split = defaultdict(list)
        e2e = []
        for stamp, arrival in self.label_arrivals.items():
            t = self.timings.get(stamp, {})
            e2e.append((arrival - stamp) / 1e6)
            if not all(s in t for s in STAGES):
                continue
            cam, enc, dec, seg = (t[s] for s in STAGES)
            parts = {
                "camera_capture_to_publish": (_ns(cam.output_published) - stamp),
                "transport_camera_to_encoder": _ns(enc.input_received) - _ns(cam.output_published),
                "encode": _ns(enc.output_published) - _ns(enc.processing_started),
                "transport_encoder_to_decoder": _ns(dec.input_received) - _ns(enc.output_published),
                "decode": _ns(dec.output_published) - _ns(dec.processing_started),
                "transport_decoder_to_segmentation": _ns(seg.input_received) - _ns(dec.output_published),
                "queue_before_inference": _ns(seg.processing_started) - _ns(seg.input_received),
                "inference_and_publish_labels": _ns(seg.output_published) - _ns(seg.processing_started),
                "segmentation_to_subscriber": arrival - _ns(seg.output_published),
            }
            for key, value in parts.items():
                split[key].append(value / 1e6)
            split["overhead_beyond_inference"].append(
                ((arrival - stamp) - (_ns(seg.output_published) - _ns(seg.processing_started))) / 1e6)
        raw = sum(t["camera"].output_bytes for t in produced)
        sent = sum(t["h264_encoder"].output_bytes for t in produced if "h264_encoder" in t)
        encoded = sum(1 for t in produced if "h264_encoder" in t)
        raw_encoded = sum(t["camera"].output_bytes for t in produced if "h264_encoder" in t)
        return {
            "duration_s": round(duration_s, 2),
            "frames_in": len(produced),
            "frames_encoded": encoded,
            "frames_out": len(self.label_arrivals),
            "input_fps": round(len(produced) / duration_s, 2),
            "output_fps": round(len(self.label_arrivals) / duration_s, 2),
            "frames_by_source": dict(self.sources),
            "end_to_end_latency": _stats(e2e),
            "stage_latency": {k: _stats(v) for k, v in split.items()},
            "bytes": {
                "raw_image_bytes": raw,
                "h264_bytes": sent,
                "h264_kbit_per_s": round(sent * 8 / duration_s / 1000, 1),
                "raw_mbit_per_s": round(raw * 8 / duration_s / 1e6, 1),
                "compression_ratio": round(raw_encoded / sent, 1) if sent else None,
            },
            "live_miou": {"frames_scored": self.scored,
                          "miou": round(float(self.confusion.miou()), 4) if self.scored else None,
                          "pixel_accuracy": round(float(self.confusion.pixel_accuracy()), 4) if self.scored else None},
        }
