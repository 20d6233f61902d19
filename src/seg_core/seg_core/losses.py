"""Segmentation losses: cross-entropy, soft-Jaccard (IoU) and pixel-wise distillation."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .classes import IGNORE_ID

LOSS_NAMES = ("ce", "iou", "ce+iou")


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


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, kind: str = "ce+iou", ignore_index: int = IGNORE_ID
) -> torch.Tensor:
    if kind not in LOSS_NAMES:
        raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")
    loss = logits.new_zeros(())
    if "ce" in kind.split("+"):
        loss = loss + F.cross_entropy(logits.float(), target, ignore_index=ignore_index)
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
