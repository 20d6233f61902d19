"""Previews, label statistics and timings of generated scenes: python -m seg_core.data.scene --help"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from seg_core.data.classes import colorize
from seg_core.data.scene.sequences import (
    SPLIT_SEED_BASE, DrivingSequence, check_size, label_statistics, render_scene, split_seed,
)


def _preview(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.concatenate([rgb, colorize(labels)], 1), cv2.COLOR_RGB2BGR)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write previews (image | colour mask) of generated scenes.")
    parser.add_argument("--out", help="output folder (previews)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--split", default="val", choices=sorted(SPLIT_SEED_BASE))
    parser.add_argument("--sequence", type=int, default=None, metavar="SEED",
                        help="preview frames of the driving sequence with this seed instead")
    parser.add_argument("--bench", action="store_true", help="time the scene and one sequence on one core")
    parser.add_argument("--stats", action="store_true",
                        help="print per-class label statistics of --count scenes instead of previews")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    check_size(args.width, args.height)
    if args.stats:
        print(label_statistics(args.split, args.count, args.width, args.height))
        return
    if not args.out:
        parser.error("--out is needed for previews")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.sequence is not None:
        seq = DrivingSequence(args.sequence, args.width, args.height)
        for k in range(args.count):
            i = k * len(seq) // args.count
            cv2.imwrite(str(out / f"seq{args.sequence}_{i:04d}.png"), _preview(*seq.frame(i)))
    else:
        for i in range(args.count):
            rgb, labels = render_scene(split_seed(args.split, i), args.width, args.height)
            cv2.imwrite(str(out / f"{args.split}_{i:04d}.png"), _preview(rgb, labels))
    print(f"wrote {args.count} previews to {out}")
    if args.bench:
        cv2.setNumThreads(1)
        scene_ms = _timed(lambda i: render_scene(split_seed(args.split, i), args.width, args.height), args.count)
        print(f"render_scene {args.width}x{args.height}: {scene_ms[0]:.1f} ms wall, {scene_ms[1]:.1f} ms cpu per scene")
        seq = DrivingSequence(0, args.width, args.height)
        wall, cpu = _timed(seq.frame, 300)
        print(f"sequence {args.width}x{args.height}: {wall:.2f} ms wall ({1e3 / wall:.0f} fps), "
              f"{cpu:.2f} ms cpu per frame on one core")


def _timed(fn, n: int) -> tuple[float, float]:
    """Mean wall and cpu milliseconds of fn(0) .. fn(n - 1)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - wall) / n * 1e3, (time.process_time() - cpu) / n * 1e3


if __name__ == "__main__":
    main()
