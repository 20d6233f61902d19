"""Super-resolution for low-resolution streaming (CloudSeg, Wang et al. 2019).

The robot sends its camera at 1/scale resolution; the cloud upscales each decoded frame back to
the camera's size (a CARN model, or interpolation), segments it and returns labels at the
camera's size. Here: that inference path, and the training data for the SR models (generated
drives whose low-resolution copies went through the real H.264 codec).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset
from tqdm import tqdm

from seg_core.codec import EncoderConfig, resize_rgb, round_trip, scaled_size
from seg_core.data.datasets import IMAGENET_MEAN, IMAGENET_STD
from seg_core.models.inference import Segmenter
from seg_core.models import default_weights, load_sr_model, sr_scale, WeightsError
from seg_core.data.scene.sequences import GENERATOR_VERSION, DrivingSequence

DEFAULT_SR_CACHE = Path("out/sr_cache")
# Generated drives: SR training uses seeds TRAIN_DRIVE_SEED and up, validation VAL_DRIVE_SEED;
# the live camera's default drive (seed 7) is kept for testing.
TRAIN_DRIVE_SEED = 1000
VAL_DRIVE_SEED = 2000
INTERPOLATIONS = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}

Upscaler = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


def to_unit_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x H x W float in [0, 1] (what the SR models take and give)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W in [0, 1] -> the segmentation models' input (differentiable)."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def segmenter_logits(segmenter: torch.nn.Module, x: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
    """Logits of a segmentation model for N x 3 x H x W images in [0, 1], the way the Segmenter
    runs it (images resized to its ``input_size`` (w, h)), resized back to H x W; differentiable."""
    size, (w, h) = tuple(x.shape[-2:]), input_size
    resized = size != (h, w)
    if resized:
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    logits = segmenter(imagenet_normalize(x))
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False) if resized else logits


def to_rgb8(x: torch.Tensor) -> np.ndarray:
    """3 x H x W float in [0, 1] (clipped) -> H x W x 3 uint8."""
    return x.clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


# ----------------------------------------------------------------------------- inference

class SuperResolver:
    """A CARN model of the registry on rgb8 frames: ``upscale(lr, (w, h))``.

    ``weights=None`` uses the shipped weights; WeightsError when there are none or they do not fit.
    """

    def __init__(self, model: str, weights: str | Path | None = None, device: str = "cpu"):
        path = weights or default_weights(model)
        if path is None:
            raise WeightsError(f"no weights shipped for super-resolution model {model!r}; "
                               "train one (python -m seg_core.train train-sr) or give its weights")
        self.model_name, self.weights, self.device = model, Path(path), torch.device(device)
        self.net, self.meta = load_sr_model(model, path)
        self.net = self.net.to(self.device, memory_format=torch.channels_last)
        self.scale = sr_scale(model)

    def upscale(self, lr: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """The frame ``scale`` times larger, resized to ``size`` (w, h) when that differs."""
        x = to_unit_tensor(lr)[None].to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            sr = to_rgb8(self.net(x)[0].cpu())
        return sr if size is None else resize_to(sr, size, cv2.INTER_LINEAR)


def resize_to(rgb: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    return rgb if rgb.shape[1::-1] == tuple(size) else cv2.resize(rgb, size, interpolation=interpolation)


def interpolation_upscaler(kind: str) -> Upscaler:
    """Plain interpolation to the target size: "bilinear" or "bicubic"."""
    if kind not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {kind!r}; choose one of {', '.join(INTERPOLATIONS)}")
    return lambda lr, size: resize_to(lr, size, INTERPOLATIONS[kind])


def check_target(lr_size: tuple[int, int], target_size: tuple[int, int], scale: int) -> None:
    """ValueError unless upscaling by ``scale`` maps a ``lr_size`` frame onto ``target_size``
    (w, h). The encoder rounds the sent size to even numbers, so each side may be off by up to
    ``scale`` pixels."""
    (w, h), (tw, th) = lr_size, target_size
    if abs(w * scale - tw) > scale or abs(h * scale - th) > scale:
        raise ValueError(f"a {w}x{h} frame upscaled x{scale} is {w * scale}x{h * scale}, "
                         f"which does not map onto the camera's {tw}x{th}")


class LowResSegmenter:
    """Segments frames sent at 1/scale resolution, at their original size.

    ``upscale`` is a SuperResolver's upscale or an interpolation_upscaler; with ``lr_reuse`` the
    segmenter's low-resolution branch takes the received frame itself (ICNet only).
    """

    def __init__(self, segmenter: Segmenter, upscale: Upscaler, scale: int, lr_reuse: bool = False):
        if lr_reuse and not segmenter.reuses_low_res:
            raise ValueError(f"lr_reuse needs a model with a low-resolution branch (icnet, torch backend), "
                             f"not {segmenter.model_name} ({segmenter.backend})")
        self.segmenter, self.upscale, self.scale, self.lr_reuse = segmenter, upscale, scale, lr_reuse

    def predict(self, lr: np.ndarray, target_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, upscaled frame), both at ``target_size`` (w, h); ValueError when the frame's
        size does not map onto it (check_target)."""
        check_target(lr.shape[1::-1], target_size, self.scale)
        hr = self.upscale(lr, target_size)
        return self.segmenter.predict(hr, low_res=lr if self.lr_reuse else None), hr


# ----------------------------------------------------------------------------- training data

def drive_frames(seed: int, count: int, size: tuple[int, int],
                 cache_dir: Path = DEFAULT_SR_CACHE) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` frames of generated drive ``seed`` at ``size`` (w, h): (rgb N x H x W x 3,
    labels N x H x W), rendered once into ``cache_dir`` (the generator version is in the name)."""
    w, h = size
    path = Path(cache_dir) / f"drive{seed}-{w}x{h}-v{GENERATOR_VERSION}-{count}.npz"
    if not path.is_file():
        seq = DrivingSequence(seed, w, h)
        frames = [seq.frame(i) for i in tqdm(range(count), desc=f"render drive {seed}", leave=False,
                                            dynamic_ncols=True)]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, rgb=np.stack([f[0] for f in frames]), labels=np.stack([f[1] for f in frames]))
        tmp.replace(path)
    data = np.load(path)
    return data["rgb"], data["labels"]


def low_res_frames(hr: np.ndarray, scale: int, bitrate: int | None, fps: float = 30.0,
                   gop: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """What the cloud receives when ``hr`` (consecutive frames, N x H x W x 3) is sent at 1/scale:
    (low-resolution frames, packet bytes per frame). ``bitrate`` (bits/s) sends them through the
    edge encoder's H.264 settings at that rate; None downscales them without the codec (packet
    bytes 0)."""
    h, w = hr.shape[1:3]
    if bitrate is None:
        size = scaled_size(w, h, 1.0 / scale)
        return np.stack([resize_rgb(f, *size) for f in hr]), np.zeros(len(hr), np.int64)
    config = EncoderConfig(bitrate=int(bitrate), gop=gop, fps=fps)
    frames, sizes = zip(*round_trip(hr, config, 1.0 / scale))
    return np.stack(frames), np.asarray(sizes, np.int64)


class SRPairs(Dataset):
    """Aligned random crops of (low-resolution, high-resolution[, labels]) frames.

    ``patch`` (w, h) is in low-resolution pixels; None gives whole frames. Items are
    (lr 3 x h x w, hr 3 x h*s x w*s) floats in [0, 1], plus int64 labels at the high resolution
    when ``labels`` is given; crops are flipped horizontally at random.
    """

    def __init__(self, lr: np.ndarray, hr: np.ndarray, scale: int, patch: tuple[int, int] | None,
                 labels: np.ndarray | None = None, flip: bool = True):
        if len(lr) != len(hr) or (labels is not None and len(labels) != len(hr)):
            raise ValueError(f"{len(lr)} low-resolution, {len(hr)} high-resolution frames"
                             + (f" and {len(labels)} label maps" if labels is not None else ""))
        if hr.shape[1:3] != (lr.shape[1] * scale, lr.shape[2] * scale):
            raise ValueError(f"high-resolution frames {hr.shape[2]}x{hr.shape[1]} are not x{scale} the "
                             f"low-resolution {lr.shape[2]}x{lr.shape[1]}")
        if patch is not None and (patch[0] > lr.shape[2] or patch[1] > lr.shape[1]):
            raise ValueError(f"patch {patch[0]}x{patch[1]} is larger than the frames ({lr.shape[2]}x{lr.shape[1]})")
        self.lr, self.hr, self.labels, self.scale, self.patch, self.flip = lr, hr, labels, scale, patch, flip

    def __len__(self) -> int:
        return len(self.lr)

    def __getitem__(self, index: int):
        lr, hr, s = self.lr[index], self.hr[index], self.scale
        labels = self.labels[index] if self.labels is not None else None
        if self.patch is not None:
            pw, ph = self.patch
            x = int(torch.randint(0, lr.shape[1] - pw + 1, ()))
            y = int(torch.randint(0, lr.shape[0] - ph + 1, ()))
            lr, hr = lr[y:y + ph, x:x + pw], hr[y * s:(y + ph) * s, x * s:(x + pw) * s]
            labels = labels[y * s:(y + ph) * s, x * s:(x + pw) * s] if labels is not None else None
        if self.flip and torch.rand(()) < 0.5:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
            labels = labels[:, ::-1] if labels is not None else None
        item = (to_unit_tensor(lr), to_unit_tensor(hr))
        return item if labels is None else (*item, torch.from_numpy(labels.astype(np.int64)))
