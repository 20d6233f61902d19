"""Super-resolution for low-resolution streaming (CloudSeg, Wang et al. 2019).

The robot sends its camera at 1/scale resolution; the cloud upscales each decoded frame back to
the camera's size (a CARN model, or interpolation), segments it and returns labels at the
camera's size. Here: that inference path. The SR models' training data is in seg_core.data.drives.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from seg_core.data.transforms import imagenet_normalize, to_rgb8, to_unit_tensor
from seg_core.models import WeightsError, default_weights, load_sr_model, sr_scale
from seg_core.models.inference import Segmenter

INTERPOLATIONS = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}

Upscaler = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


def segmenter_logits(segmenter: torch.nn.Module, x: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
    """Logits of a segmentation model for N x 3 x H x W images in [0, 1], the way the Segmenter
    runs it (images resized to its ``input_size`` (w, h)), resized back to H x W; differentiable."""
    size, (w, h) = tuple(x.shape[-2:]), input_size
    resized = size != (h, w)
    if resized:
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    logits = segmenter(imagenet_normalize(x))
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False) if resized else logits


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
