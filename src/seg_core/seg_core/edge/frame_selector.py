"""2-level frame selection on the edge (CloudSeg, Wang et al. 2019, Fig. 3): which camera frames to send.

Each frame gets a cheap change score against the last frame that was sent:

- KEY     score above ``high`` (or the first frame, or a new frame size): sent as an IDR keyframe.
- USEFUL  score above ``low``, or ``max_skipped`` frames in a row were skipped: sent as a normal frame.
- SKIP    otherwise: not sent; the receiver keeps using the labels of the last sent frame.

The score is the mean absolute difference of two grey thumbnails, in 8-bit grey levels (0..255):
every 4th pixel of every 4th row, the mean of R, G and B, averaged over 4 x 4 blocks (a 40 x 30
thumbnail of a 640 x 480 frame). Sampling before averaging keeps it cheap (a median 0.4 ms per
640 x 480 frame on one x86 core); the block average keeps it from reacting to fine texture.
On the generated drive (30 fps, 8..12 m/s) consecutive frames score about 4, frames two apart
about 6 and a cut to another scene 30 or more.

Pure and ROS-free: the controller moves the thresholds with ``set_thresholds``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KEY, USEFUL, SKIP = "key", "useful", "skip"

_STEP = 4    # thumbnail sampling: every 4th pixel of every 4th row
_BLOCK = 4   # then the mean of 4 x 4 blocks of samples


@dataclass
class SelectorConfig:
    """Thresholds on the change score (grey levels, see the module docstring)."""

    # Defaults measured by `python -m seg_core.train --threads 1 selector` (docs/frame_selector.json).
    low: float = 9.0       # above: a useful frame (sent)
    high: float = 20.0     # above: a key frame (sent as an IDR)
    max_skipped: int = 4   # send at least every (max_skipped+1)-th frame

    def validate(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number of grey levels, got {value!r}")
        if not 0.0 <= self.low <= self.high:
            raise ValueError(f"thresholds must satisfy 0 <= low <= high, got low {self.low}, high {self.high}")
        if isinstance(self.max_skipped, bool) or not isinstance(self.max_skipped, int) or self.max_skipped < 0:
            raise ValueError(f"max_skipped must be an integer >= 0, got {self.max_skipped!r}")


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The float32 grey thumbnail the change score compares (1/16 of the frame's width and height)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got {getattr(rgb, 'shape', type(rgb).__name__)}")
    size = _STEP * _BLOCK
    if rgb.shape[0] < size or rgb.shape[1] < size:
        raise ValueError(f"the frame must be at least {size} x {size} pixels, got {rgb.shape[1]} x {rgb.shape[0]}")
    grey = rgb[::_STEP, ::_STEP].mean(axis=2, dtype=np.float32)
    h, w = grey.shape[0] // _BLOCK, grey.shape[1] // _BLOCK
    return grey[:h * _BLOCK, :w * _BLOCK].reshape(h, _BLOCK, w, _BLOCK).mean(axis=(1, 3))


def change_score(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of the grey thumbnails of two frames of one size, in grey levels."""
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} and {b.shape}")
    return _difference(thumbnail(a), thumbnail(b))


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


class FrameSelector:
    """Classifies each camera frame as KEY, USEFUL or SKIP against the last frame sent."""

    def __init__(self, config: SelectorConfig | None = None) -> None:
        self.config = config or SelectorConfig()
        self.config.validate()
        self._reference: np.ndarray | None = None   # thumbnail of the last sent frame
        self._shape: tuple[int, ...] | None = None
        self._skipped = 0

    def set_thresholds(self, low: float, high: float) -> None:
        """Move both thresholds (validated; the old ones stay on a ValueError)."""
        config = SelectorConfig(low=low, high=high, max_skipped=self.config.max_skipped)
        config.validate()
        self.config = config

    def select(self, rgb: np.ndarray) -> tuple[str, float]:
        """(KEY, USEFUL or SKIP, change score against the last sent frame); the score is inf for
        the first frame and after a size change."""
        current = thumbnail(rgb)
        if self._reference is None or rgb.shape != self._shape:
            score = math.inf
        else:
            score = _difference(current, self._reference)
        if score > self.config.high:
            decision = KEY
        elif score > self.config.low or self._skipped >= self.config.max_skipped:
            decision = USEFUL
        else:
            self._skipped += 1
            return SKIP, score
        self._reference, self._shape, self._skipped = current, rgb.shape, 0
        return decision, score
