"""Segmentation losses: cross-entropy (optionally class-weighted or hard-pixel mined),
soft-Jaccard (IoU) and pixel-wise distillation."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .classes import IGNORE_ID

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
    target: torch.Tensor,
    temperature: float,
    ignore_index: int = IGNORE_ID,
) -> torch.Tensor:
    """Pixel-wise KL(teacher || student) at ``temperature``, scaled by T^2 (Hinton et al.)."""
    t = temperature
    log_student = F.log_softmax(student_logits.float() / t, dim=1)
    log_teacher = F.log_softmax(teacher_logits.float() / t, dim=1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(dim=1)
    valid = target != ignore_index
    return kl[valid].mean() * t * t if valid.any() else kl.sum() * 0.0
