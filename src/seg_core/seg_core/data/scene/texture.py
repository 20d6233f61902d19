"""Colours, noise and the procedural textures that sprites and the ground map are painted with."""
from __future__ import annotations

import cv2
import numpy as np

_GRAIN_SIZE = 512
_GRAIN = np.random.default_rng(20240611).standard_normal((_GRAIN_SIZE, _GRAIN_SIZE)).astype(np.float32)


def cv_colour(colour) -> tuple[int, int, int]:
    r, g, b = colour
    return min(255, max(0, int(r))), min(255, max(0, int(g))), min(255, max(0, int(b)))


def jitter(rng, colour, amount: float) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def pick(rng, colours, amount: float = 15.0) -> np.ndarray:
    return jitter(rng, colours[rng.integers(len(colours))], amount)


def lowfreq(rng, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth N(0, 1)-ish noise with features about `cell` pixels wide."""
    small = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def grain_noise(rng, h: int, w: int) -> np.ndarray:
    """Per-pixel N(0, 1) noise cut from a shared tile at a random offset."""
    tile = _GRAIN if rng.random() < 0.5 else _GRAIN.T
    oy, ox = (int(rng.integers(0, max(_GRAIN_SIZE - n, 0) + 1)) for n in (h, w))
    if h > _GRAIN_SIZE or w > _GRAIN_SIZE:
        tile = cv2.copyMakeBorder(tile, 0, max(h - _GRAIN_SIZE, 0), 0, max(w - _GRAIN_SIZE, 0), cv2.BORDER_WRAP)
    return tile[oy:oy + h, ox:ox + w]


def texture(rng, h: int, w: int, colour, grain: float = 6.0, blotch: float = 0.08,
             cell: float = 30.0) -> np.ndarray:
    """Colour modulated by blotches about `cell` pixels wide and by per-pixel grain."""
    colour = np.asarray(colour, np.float32)
    shade = lowfreq(rng, h, w, cell) * blotch + 1.0
    shade += grain_noise(rng, h, w) * (grain / max(float(colour.mean()), 1.0))
    return cv2.merge([cv2.convertScaleAbs(shade, alpha=float(c)) for c in colour])


def foliage(rng, h: int, w: int, colour) -> np.ndarray:
    """Leafy texture: clumps of light and shade plus leaf-sized speckle."""
    clumps = lowfreq(rng, h, w, 6.0)
    shade = np.clip(0.9 + 0.22 * clumps + 0.18 * grain_noise(rng, h, w), 0.35, 1.5)
    return np.clip(np.asarray(colour, np.float32) * shade[..., None], 0, 255).astype(np.uint8)
