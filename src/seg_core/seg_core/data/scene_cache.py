"""Generated scenes rendered once into an on-disk cache, and augmented training crops of them.

Rendering one street scene takes a few hundred milliseconds, far longer than a training step
needs per image, so training draws augmented samples from a pool rendered once.
"""
from __future__ import annotations

import argparse
import os
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from seg_core.data.datasets import (
    ColorJitter, Compose, GridAffine, HorizontalFlip, RandomScaleCrop, _rng, to_tensor,
)
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


class GaussianBlur:
    """Blur with a random sigma in ``sigma`` with probability ``p`` (defocus, motion, scaling)."""

    def __init__(self, p: float = 0.2, sigma=(0.5, 1.5)):
        self.p, self.sigma = p, sigma

    def __call__(self, rgb, labels, rng=None):
        rng = _rng(rng)
        if rng.random() < self.p:
            rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(*self.sigma))
        return rgb, labels


class CompressionArtifacts:
    """JPEG re-encoding at a random quality with probability ``p``: blocking and ringing like
    the compressed video link the cloud model sees."""

    def __init__(self, p: float = 0.3, quality=(30, 90)):
        self.p, self.quality = p, quality

    def __call__(self, rgb, labels, rng=None):
        rng = _rng(rng)
        if rng.random() < self.p:
            quality = int(rng.integers(self.quality[0], self.quality[1] + 1))
            _, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
            rgb = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        return rgb, labels


AUGMENTATIONS = ("flip", "color", "grid", "blur", "jpeg")


def training_transform(crop: tuple[int, int], augmentations=AUGMENTATIONS,
                       scale=(0.5, 2.0), focus_classes=(), focus_p: float = 0.0) -> Compose:
    """Random scale + crop to ``crop`` (w, h), with probability ``focus_p`` over a pixel of
    one of ``focus_classes``, followed by the named augmentations."""
    unknown = set(augmentations) - set(AUGMENTATIONS)
    if unknown:
        raise ValueError(f"unknown augmentations {sorted(unknown)}; choose from {AUGMENTATIONS}")
    steps = {"flip": HorizontalFlip(), "color": ColorJitter(), "grid": GridAffine(),
             "blur": GaussianBlur(), "jpeg": CompressionArtifacts()}
    return Compose([RandomScaleCrop(*crop, scale=scale, focus_classes=focus_classes, focus_p=focus_p)]
                   + [steps[name] for name in AUGMENTATIONS if name in augmentations])


class SceneArrays(Dataset):
    """In-memory (rgb, labels) uint8 arrays as (normalised 3 x H x W float, H x W int64) samples,
    optionally through a ``transform(rgb, labels) -> (rgb, labels)``."""

    def __init__(self, rgb: np.ndarray, labels: np.ndarray, transform=None):
        if len(rgb) != len(labels):
            raise ValueError(f"{len(rgb)} images but {len(labels)} label maps")
        self.rgb, self.labels, self.transform = rgb, labels, transform

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, labels = self.rgb[index], self.labels[index]
        if self.transform is not None:
            rgb, labels = self.transform(rgb, labels)
        return to_tensor(np.ascontiguousarray(rgb)), torch.from_numpy(labels.astype(np.int64))


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
