"""Generated scenes by seed and split, looped driving sequences, and the label statistics of a split."""
from __future__ import annotations

import cv2
import numpy as np

from seg_core.data.classes import CITYSCAPES_CLASSES, NUM_CLASSES
from seg_core.data.scene.canvas import FAR
from seg_core.data.scene.world import World

# Bumped whenever a change to the generator changes what a seed renders, so that scenes
# rendered (and cached) by an earlier version are never mistaken for current ones.
GENERATOR_VERSION = 2

SPLIT_SEED_BASE = {"train": 0, "val": 1_000_000, "test": 2_000_000}
SPLIT_SIZE = 1_000_000

SEQUENCE_FPS = 30.0
SEQUENCE_FRAMES = 900


def split_seed(split: str, index: int) -> int:
    """Seed of scene `index` of a split; the splits never share seeds."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"unknown split '{split}', expected one of {', '.join(SPLIT_SEED_BASE)}")
    if not 0 <= index < SPLIT_SIZE:
        raise ValueError(f"index {index} is outside [0, {SPLIT_SIZE})")
    return SPLIT_SEED_BASE[split] + index


def check_size(width: int, height: int):
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"image size {width}x{height} must be within 16..8192 per side")


def render_scene(seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """One random street scene: (rgb uint8 HxWx3, train-id labels uint8 HxW), a pure function of
    the seed and size."""
    check_size(width, height)
    rng = np.random.default_rng(seed)
    world = World(rng, width, height, FAR + 20.0, None)
    return world.render(0.0)


class DrivingSequence:
    """A looped drive down a generated street: `len(seq)` frames at SEQUENCE_FPS, after which
    it repeats.  `frame(i)` is a pure function of the seed, size and i (i modulo the length)."""

    def __init__(self, seed: int, width: int, height: int):
        check_size(width, height)
        rng = np.random.default_rng([seed, 7])
        period = SEQUENCE_FRAMES / SEQUENCE_FPS
        length = max(rng.uniform(8.0, 12.0) * period, 2 * FAR + 40)   # the loop, driven at 8..12 m/s
        self._world = World(rng, width, height, length, period)
        self._world.prepare()

    def __len__(self) -> int:
        return SEQUENCE_FRAMES

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, labels) of frame `index` (taken modulo the length)."""
        i = index % SEQUENCE_FRAMES
        return self._world.render(i / SEQUENCE_FPS, i)


def label_statistics(split: str, count: int, width: int, height: int) -> str:
    """Per class over the first `count` scenes of a split: share of the pixels, share of the
    scenes showing it, objects (8-connected regions of at least 4 pixels) per scene and their
    median width, height and area and 90th-percentile height in pixels."""
    pixels, scenes = np.zeros(NUM_CLASSES), np.zeros(NUM_CLASSES)
    objects = [[] for _ in range(NUM_CLASSES)]
    for i in range(count):
        labels = render_scene(split_seed(split, i), width, height)[1]
        counts = np.bincount(labels.ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
        pixels += counts
        scenes += counts > 0
        for k in np.flatnonzero(counts):
            n, _, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=8)
            objects[k] += [tuple(st) for st in stats[1:, 2:5] if st[2] >= 4]
    lines = [f"{count} {split} scenes at {width}x{height}, generator version {GENERATOR_VERSION}",
             f"{'class':<14} {'pixels %':>8} {'scenes %':>8} {'objects':>7} {'med w':>5} {'med h':>5} "
             f"{'med px':>6} {'p90 h':>5}"]
    for k, name in enumerate(CITYSCAPES_CLASSES):
        o = np.array(objects[k], np.float64).reshape(-1, 3)
        w, h, a = np.median(o, 0) if len(o) else (0, 0, 0)
        p90 = np.percentile(o[:, 1], 90) if len(o) else 0
        lines.append(f"{name:<14} {100 * pixels[k] / pixels.sum():8.3f} {100 * scenes[k] / count:8.0f} "
                     f"{len(o) / count:7.2f} {w:5.0f} {h:5.0f} {a:6.0f} {p90:5.0f}")
    return "\n".join(lines)

