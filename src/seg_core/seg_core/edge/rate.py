"""Rates over time (pure bookkeeping, every call takes the time): bytes over a sliding window as
kbit/s, and a camera stream thinned to a lower frame rate."""
from __future__ import annotations

from collections import deque


class ByteRate:
    def __init__(self, window_s: float):
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._bytes: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, nbytes: int, t: float) -> None:
        self._bytes.append((t, int(nbytes)))
        self._total += int(nbytes)
        self._trim(t)

    def kbps(self, t: float) -> float:
        """kbit/s over the window ending at `t`."""
        self._trim(t)
        return self._total * 8 / 1000.0 / self.window_s

    def _trim(self, t: float) -> None:
        while self._bytes and self._bytes[0][0] <= t - self.window_s:
            self._total -= self._bytes.popleft()[1]


class FrameRateGate:
    """Passes frames (by camera stamp) at no more than `fps`: a frame passes once 0.8 / fps has gone
    by since the last one passed, so a 30 fps camera thinned to 15 fps passes every 2nd frame and
    to 10 fps every 3rd, whatever the jitter of the stamps."""

    def __init__(self, fps: float):
        self.fps = fps
        self._last: float | None = None

    @property
    def fps(self) -> float:
        return self._fps

    @fps.setter
    def fps(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self._fps = fps

    def passes(self, stamp: float) -> bool:
        if self._last is not None and self._last <= stamp < self._last + 0.8 / self._fps:
            return False
        self._last = stamp
        return True
