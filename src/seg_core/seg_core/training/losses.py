"""Losses: segmentation (cross-entropy, optionally class-weighted or hard-pixel mined, soft-Jaccard
(IoU), pixel-wise distillation) and super-resolution (L1 + SSIM, and the analytics-aware loss that
keeps a segmenter's view of SR frames close to its view of the original)."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from seg_core.data.classes import IGNORE_ID

LOSS_NAMES = ("ce", "iou", "ce+iou")


def enet_class_weights(pixel_counts: np.ndarray, c: float = 1.02) -> torch.Tensor:
    """ENet's class weights 1 / ln(c + p_k), p_k the share of class k among the labelled
    pixels (Paszke et al. 2016): at most 1 / ln(c) ~ 50 for a class that is almost never seen,
    about 1.4 for one covering a third of the pixels."""
    counts = np.asarray(pixel_counts, np.float64)
    if counts.ndim != 1 or counts.sum() <= 0 or (counts < 0).any():
        raise ValueError("pixel_counts must be non-negative per-class counts with a positive sum")
    return torch.tensor(1.0 / np.log(c + counts / counts.sum()), dtype=torch.float32)


def soft_jaccard_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_ID, eps: float = 1.0
) -> torch.Tensor:
    """1 - mean soft IoU over the classes present in the target or the prediction of the batch."""
    num_classes = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1)
    probs = logits.float().softmax(dim=1) * valid
    onehot = F.one_hot(target.clamp(max=num_classes - 1), num_classes).permute(0, 3, 1, 2)
    onehot = onehot.to(probs.dtype) * valid
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    union = probs.sum(dims) + onehot.sum(dims) - intersection
    present = onehot.sum(dims) + probs.sum(dims) > 0.5
    iou = (intersection + eps) / (union + eps)
    return 1.0 - iou[present].mean()


def ohem_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, keep: float, threshold: float = 0.7,
    weight: torch.Tensor | None = None, ignore_index: int = IGNORE_ID,
) -> torch.Tensor:
    """Cross-entropy over the hard pixels only (online hard example mining): those whose
    true-class probability is below ``threshold``, and never fewer than the ``keep`` fraction
    of the labelled pixels with the highest loss."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be within (0, 1], got {keep}")
    losses = F.cross_entropy(logits.float(), target, weight=weight, ignore_index=ignore_index,
                             reduction="none").flatten()
    valid = target.flatten() != ignore_index
    losses = losses[valid]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    hard = losses > -np.log(threshold)
    least = max(1, int(keep * losses.numel()))
    if int(hard.sum()) < least:
        return losses.topk(least).values.mean()
    return losses[hard].mean()


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, kind: str = "ce+iou", ignore_index: int = IGNORE_ID,
    class_weights: torch.Tensor | None = None, ohem_keep: float = 0.0,
) -> torch.Tensor:
    """``kind``'s terms summed; the cross-entropy term weighs classes by ``class_weights`` and,
    with ``ohem_keep`` > 0, averages over the hard pixels only (ohem_cross_entropy)."""
    if kind not in LOSS_NAMES:
        raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")
    loss = logits.new_zeros(())
    if "ce" in kind.split("+"):
        if ohem_keep:
            loss = loss + ohem_cross_entropy(logits, target, ohem_keep, weight=class_weights,
                                             ignore_index=ignore_index)
        else:
            loss = loss + F.cross_entropy(logits.float(), target, weight=class_weights,
                                          ignore_index=ignore_index)
    if "iou" in kind.split("+"):
        loss = loss + soft_jaccard_loss(logits, target, ignore_index)
    return loss


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target: torch.Tensor | None,
    temperature: float,
    ignore_index: int = IGNORE_ID,
) -> torch.Tensor:
    """Pixel-wise KL(teacher || student) at ``temperature``, scaled by T^2 (Hinton et al.), over
    the pixels whose ``target`` is not ignored (all pixels when ``target`` is None)."""
    t = temperature
    log_student = F.log_softmax(student_logits.float() / t, dim=1)
    log_teacher = F.log_softmax(teacher_logits.float() / t, dim=1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(dim=1)
    if target is None:
        return kl.mean() * t * t
    valid = target != ignore_index
    return kl[valid].mean() * t * t if valid.any() else kl.sum() * 0.0


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity (Wang et al. 2004) of N x C x H x W images in [0, 1]: Gaussian
    window, per channel, over the positions where the window fits inside the image."""
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    x, y = x.float(), y.float()
    channels = x.shape[1]
    g = torch.exp(-((torch.arange(window, dtype=torch.float32, device=x.device) - window // 2) ** 2)
                  / (2 * sigma ** 2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, window, window)

    def blur(z):
        return F.conv2d(z, kernel, groups=channels)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()


def sr_loss(sr: torch.Tensor, hr: torch.Tensor, ssim_weight: float = 0.84) -> torch.Tensor:
    """(1 - w) L1 + w (1 - SSIM), the mix Zhao et al. (2017, "Loss Functions for Image Restoration
    with Neural Networks") found best, on images in [0, 1]."""
    return (1.0 - ssim_weight) * F.l1_loss(sr, hr) + ssim_weight * (1.0 - ssim(sr, hr))


def analytics_sr_loss(
    sr_logits: torch.Tensor,
    hr_logits: torch.Tensor,
    target: torch.Tensor | None,
    sr: torch.Tensor,
    hr: torch.Tensor,
    ce_weight: float = 0.5,
    pixel_weight: float = 1.0,
    ignore_index: int = IGNORE_ID,
) -> torch.Tensor:
    """Analytics-aware SR loss (CloudSeg, section 3.1): how differently the segmenter sees the SR
    frame and the original (pixel-wise KL of its outputs), plus cross-entropy on the SR frame
    where labels exist (``target`` None: none), plus ``pixel_weight`` times sr_loss so the
    image quality holds."""
    loss = distillation_loss(sr_logits, hr_logits, None, 1.0)
    if target is not None and ce_weight and (target != ignore_index).any():
        loss = loss + ce_weight * F.cross_entropy(sr_logits.float(), target, ignore_index=ignore_index)
    return loss + pixel_weight * sr_loss(sr, hr)
