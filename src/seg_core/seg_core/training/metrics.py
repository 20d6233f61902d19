"""Segmentation metrics (confusion matrix: per-class IoU, mean IoU, pixel accuracy) and PSNR."""
from __future__ import annotations

import math

import numpy as np

from seg_core.data.classes import CITYSCAPES_CLASSES, IGNORE_ID, NUM_CLASSES


def _as_int_array(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):   # torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {x.dtype}")
    return x


class ConfusionMatrix:
    """Accumulates (ground truth, prediction) pixel counts; rows are ground truth, columns
    predictions.  Pixels whose ground truth is `ignore_index` are not counted; predictions that
    are no class id (ignore, or garbage) count as wrong, in `unmatched` per ground-truth class."""

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_ID):
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        if 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index {ignore_index} must not be a class id (0..{num_classes - 1})")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.names = CITYSCAPES_CLASSES if num_classes == NUM_CLASSES else tuple(
            f"class {k}" for k in range(num_classes))
        self.matrix = np.zeros((num_classes, num_classes), np.int64)
        self.unmatched = np.zeros(num_classes, np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0
        self.unmatched[:] = 0

    def update(self, pred, target) -> None:
        """Add a prediction and its ground truth: numpy or torch integer arrays of one shape."""
        pred, target = _as_int_array(pred, "pred"), _as_int_array(target, "target")
        if pred.shape != target.shape:
            raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
        n = self.num_classes
        keep = target != self.ignore_index
        t, p = target[keep].astype(np.int64), pred[keep].astype(np.int64)
        if t.size and (t.min() < 0 or t.max() >= n):
            raise ValueError(f"target holds ids outside 0..{n - 1} other than ignore {self.ignore_index}")
        valid = (p >= 0) & (p < n)
        if not valid.all():
            self.unmatched += np.bincount(t[~valid], minlength=n)
            t, p = t[valid], p[valid]
        self.matrix += np.bincount(t * n + p, minlength=n * n).reshape(n, n)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for classes absent from both predictions and ground truth."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self._gt_pixels() - tp
        out = np.full(self.num_classes, np.nan)
        np.divide(tp, union, out=out, where=union > 0)
        return out

    def miou(self) -> float:
        """Mean IoU over the classes present in predictions or ground truth (NaN if none)."""
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan

    def pixel_accuracy(self) -> float:
        total = self._gt_pixels().sum()
        return float(np.trace(self.matrix) / total) if total else math.nan

    def _gt_pixels(self) -> np.ndarray:
        return self.matrix.sum(1) + self.unmatched

    def table(self) -> str:
        """Per-class IoU table with mean IoU and pixel accuracy, for printing."""
        width = max(len(n) for n in self.names)
        lines = [f"{'class':<{width}}  {'IoU':>6}  {'pixels':>12}"]
        for name, value, count in zip(self.names, self.iou(), self._gt_pixels()):
            shown = "   n/a" if math.isnan(value) else f"{100 * value:6.2f}"
            lines.append(f"{name:<{width}}  {shown}  {count:12d}")
        lines.append(f"{'mean IoU':<{width}}  {_pct(self.miou())}")
        lines.append(f"{'pixel acc':<{width}}  {_pct(self.pixel_accuracy())}")
        return "\n".join(lines)

    def confusions(self, top: int = 2, at_least: float = 0.01) -> dict[str, list[tuple[str, float]]]:
        """Where each class's pixels go: per ground-truth class the ``top`` other classes (or
        "unlabeled" for predictions that are no class) taking the largest shares of its pixels,
        at least ``at_least`` each, with those shares."""
        gt = self._gt_pixels()
        out = {}
        for k, name in enumerate(self.names):
            if not gt[k]:
                continue
            shares = [(self.names[j], self.matrix[k, j] / gt[k]) for j in range(self.num_classes) if j != k]
            shares.append(("unlabeled", self.unmatched[k] / gt[k]))
            shares.sort(key=lambda e: -e[1])
            out[name] = [(other, round(float(v), 4)) for other, v in shares[:top] if v >= at_least]
        return out

    def as_dict(self) -> dict:
        """JSON-friendly summary; NaN becomes None."""
        return {
            "miou": _finite(self.miou()),
            "pixel_accuracy": _finite(self.pixel_accuracy()),
            "iou": {name: _finite(v) for name, v in zip(self.names, self.iou())},
            "pixels": int(self._gt_pixels().sum()),
        }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _pct(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{100 * value:6.2f}"


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of a uint8 image against a reference of its shape
    (inf when they are equal)."""
    if image.shape != reference.shape or image.dtype != np.uint8 or reference.dtype != np.uint8:
        raise ValueError(f"need two uint8 images of one shape, got {image.dtype} {image.shape} "
                         f"and {reference.dtype} {reference.shape}")
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)
