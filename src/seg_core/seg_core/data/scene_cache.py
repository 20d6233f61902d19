"""Generated scenes rendered once into an on-disk cache, in shards of SHARD scenes.

Rendering one street scene takes a few hundred milliseconds, far longer than a training step
needs per image, so training draws augmented samples from a pool rendered once.
"""
from __future__ import annotations

import argparse
import os
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seg_core.data.scene.sequences import GENERATOR_VERSION, render_scene, split_seed

SHARD = 100
DEFAULT_CACHE_DIR = Path("out/scene_cache")


def _render_shard(job: tuple[str, int, int, int, Path]) -> Path:
    split, first, width, height, path = job
    rgbs, labels = zip(*(render_scene(split_seed(split, first + i), width, height) for i in range(SHARD)))
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, rgb=np.stack(rgbs), labels=np.stack(labels))
    tmp.replace(path)
    return path


def shard_path(cache_dir: Path, split: str, first: int, width: int, height: int) -> Path:
    """Where a shard lives; the generator version is part of the name, so scenes an earlier
    generator rendered are never read as current ones."""
    return Path(cache_dir) / f"{split}-{width}x{height}-v{GENERATOR_VERSION}-{first:07d}.npz"


def cached_scenes(
    split: str, count: int, width: int, height: int, cache_dir: Path = DEFAULT_CACHE_DIR,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Scenes 0..count-1 of ``split`` (count rounded up to whole shards of 100) as
    (rgb N x H x W x 3, labels N x H x W) uint8 arrays, rendering missing shards first."""
    firsts = range(0, count, SHARD)
    paths = [shard_path(cache_dir, split, f, width, height) for f in firsts]
    todo = [(split, f, width, height, p) for f, p in zip(firsts, paths) if not p.is_file()]
    if todo:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=len(todo) * SHARD, desc=f"render {split} {width}x{height}", unit="scene",
                   dynamic_ncols=True)
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for _ in pool.imap_unordered(_render_shard, todo):
                    bar.update(SHARD)
        else:
            for job in todo:
                _render_shard(job)
                bar.update(SHARD)
        bar.close()
    shards = [np.load(p) for p in tqdm(paths, desc="load scene cache", leave=False)]
    return (np.concatenate([s["rgb"] for s in shards]),
            np.concatenate([s["labels"] for s in shards]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Render generated scenes into the training cache.")
    ap.add_argument("--split", default="train", choices=("train", "val", "test"))
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--size", type=int, nargs=2, default=(512, 256), metavar=("W", "H"))
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    rgb, _ = cached_scenes(args.split, args.count, *args.size, args.cache_dir, args.workers)
    print(f"{len(rgb)} scenes cached in {args.cache_dir}")


if __name__ == "__main__":
    main()
