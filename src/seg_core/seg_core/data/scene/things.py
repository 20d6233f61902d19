"""Things placed in the world, each with a painter built from its own seed on first use."""
from __future__ import annotations

import numpy as np

from seg_core.data.scene.sprites import Sprite, tree, trunk


class Thing:
    """Something placed in the world.  Its painter `paint(canvas, d, t)` (d: relative depth of
    its centre) is built on first use from the thing's own seed, so nothing depends on the order
    in which things are first seen.

    layer 0 lies on the ground, 1 is the building line, 2 the street; within a layer things are
    painted far to near by d + key.  `motion(t)`, when set, gives the relative depth of a mover."""

    __slots__ = ("x", "z", "half", "radius", "layer", "key", "build", "seed", "motion", "_painter")

    def __init__(self, x, z, half, radius, layer, build, seed, key=None, motion=None):
        self.x, self.z, self.half, self.radius, self.layer = x, z, half, radius, layer
        self.key = -half if key is None else key
        self.build, self.seed, self.motion, self._painter = build, seed, motion, None

    def painter(self):
        if self._painter is None:
            self._painter = self.build(np.random.default_rng(self.seed))
        return self._painter


def billboard(spr: Sprite, x: float, bottom: float = 0.0):
    """Sprite facing the camera's direction, its bottom centre at (x, bottom) over the thing."""
    def paint(cv, d, t):
        cv.sprite(spr, (x - spr.width / 2, bottom + spr.height, d), (spr.width, 0, 0), (0, -spr.height, 0))
    return paint


def along_street(spr: Sprite, x: float, opaque: bool = False, reverse: bool = False):
    """Sprite on a vertical plane parallel to the road, centred at the thing's depth."""
    def paint(cv, d, t):
        u = -spr.width if reverse else spr.width
        cv.sprite(spr, (x, spr.height, d - u / 2), (0, 0, u), (0, -spr.height, 0), opaque)
    return paint


def animate(frames: list[Sprite], x: float, rate: float, phase: float):
    """Billboard cycling through `frames` at `rate` cycles per second."""
    def paint(cv, d, t):
        billboard(frames[int((t * rate + phase) * len(frames)) % len(frames)], x)(cv, d, t)
    return paint


def tree_paint(rng, crown: float, height: float, x: float):
    spr, bottom = tree(rng, crown, height)
    crown_paint = billboard(spr, x, bottom)
    trunk_paint = billboard(trunk(rng, bottom + crown * 0.3), x)

    def paint(cv, d, t):
        trunk_paint(cv, d, t)
        crown_paint(cv, d, t)
    return paint
