"""The training loop shared by segmentation and super-resolution training: seeding, batches,
the optimiser schedule, checkpointed and resumable state, and the starting points of a run."""
from __future__ import annotations

import logging
import random
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from seg_core.data.classes import NUM_CLASSES
from seg_core.models import (
    apply_state_dict, backbone_prefixes, build_model, default_weights, head_prefixes, load_weights,
    read_checkpoint,
)

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class BatchIndices:
    """Endless shuffled index batches; epoch e uses a permutation seeded by (seed, e), so a
    resumed run draws the same batches as an uninterrupted one from ``start_step`` on."""

    def __init__(self, length: int, batch: int, seed: int, start_step: int = 0):
        if length < batch:
            raise ValueError(f"dataset of {length} samples is smaller than the batch of {batch}")
        self.length, self.batch, self.seed, self.start_step = length, batch, seed, start_step

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = self.length // self.batch
        epoch, offset = divmod(self.start_step, per_epoch)
        while True:
            order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
            for k in range(offset, per_epoch):
                yield order[k * self.batch:(k + 1) * self.batch].tolist()
            epoch, offset = epoch + 1, 0


def restore_state(path: str, total_steps: int, model: nn.Module, optimiser, scheduler) -> dict:
    """Load a training state saved by ``fit`` into the model, optimiser and scheduler; returns it."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["total_steps"] != total_steps:
        raise SystemExit(f"{path} belongs to a {state['total_steps']}-step schedule; "
                         f"resume it with --steps {state['total_steps']}")
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    log.info("resumed %s at step %d", path, state["step"])
    return state


def fit(args, model: nn.Module, train_set: Dataset, step_loss: Callable[[list], torch.Tensor],
        validate: Callable[[], dict[str, float]], state_path: Path, resume: str | None = None,
        train_mode: Callable[[], None] | None = None) -> list[dict]:
    """Run ``args.steps`` optimiser steps on the trainable parameters of ``model``, checkpointing
    the training state to ``state_path``.

    ``step_loss(batch)`` gives the loss of a batch of ``train_set``; ``validate()`` the metrics
    logged every ``--eval-every`` steps; ``train_mode()`` puts the model in training mode
    (default ``model.train()``). Returns the evaluation history."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    # OneCycleLR divides by the warm-up's steps less one: under 2 steps of warm-up is none
    warmup = args.warmup if args.warmup * args.steps >= 2 else 0.0
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=warmup, div_factor=10.0,
        final_div_factor=100.0,
    )
    state = restore_state(resume, args.steps, model, optimiser, scheduler) if resume else None
    step, history = (state["step"], state["history"]) if state else (0, [])
    model.to(memory_format=torch.channels_last)

    def save_state():
        state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = state_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(), "step": step, "total_steps": args.steps,
                    "history": history, "torch_rng": torch.get_rng_state()}, tmp)
        tmp.replace(state_path)

    loader = DataLoader(train_set, batch_sampler=BatchIndices(len(train_set), args.batch, args.seed, step),
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    batches = iter(loader)
    if state:  # after the loader has drawn its seed, as it had in the interrupted run
        torch.set_rng_state(state["torch_rng"])
    bar = tqdm(total=args.steps, initial=step, desc=f"train {args.model}", dynamic_ncols=True)
    smooth = None
    while step < args.steps:
        (train_mode or model.train)()
        loss = step_loss(next(batches))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.95 * smooth + 0.05 * loss.item()
        bar.set_postfix(loss=f"{smooth:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        bar.update()
        if args.eval_every and (step % args.eval_every == 0 or step == args.steps):
            model.eval()
            metrics = validate()
            history.append({"step": step, "loss": round(smooth, 4), **{k: round(v, 4) for k, v in metrics.items()}})
            bar.write(f"step {step}: loss {smooth:.4f}  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if step % args.checkpoint_every == 0 or step == args.steps:
            save_state()
    bar.close()
    return history


def freeze_backbone(model: nn.Module, name: str) -> None:
    frozen = backbone_prefixes(name)
    for key, param in model.named_parameters():
        param.requires_grad = not key.startswith(frozen)


def freeze_batchnorm_statistics(model: nn.Module, name: str) -> None:
    """Keep the frozen backbone's batch-norm layers in eval mode while the rest trains."""
    frozen = backbone_prefixes(name)
    for key, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (key + ".").startswith(frozen):
            module.eval()


def init_from(model: nn.Module, name: str, path: str) -> None:
    """Fine-tuning start: load ``path`` (official torchvision keys work; ``aux_classifier.*`` is
    dropped) and keep the fresh classifier head when the class count differs."""
    state_dict, _ = read_checkpoint(path)
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith("aux_classifier.")}
    own = model.state_dict()
    heads = head_prefixes(name)
    replaced = [k for k, v in state_dict.items()
                if k.startswith(heads) and k in own and own[k].shape != v.shape]
    if replaced:
        log.info("class count differs: new classifier head (%s)", ", ".join(replaced))
        state_dict = {k: (own[k] if k in replaced else v) for k, v in state_dict.items()}
    apply_state_dict(model, state_dict, source=path)


def load_frozen(name: str, weights: str | None, flag: str) -> tuple[nn.Module, dict]:
    """A segmentation model with trained weights whose parameters do not train (a teacher, or the
    segmenter in the SR training loop), in eval mode, and its checkpoint's metadata."""
    path = weights or default_weights(name)
    if path is None:
        raise SystemExit(f"{flag} {name} needs {flag}-weights (none are shipped)")
    model = build_model(name, NUM_CLASSES)
    meta = load_weights(model, path)
    for p in model.parameters():
        p.requires_grad = False
    return model.eval(), meta


def command_line() -> str:
    return "python -m seg_core.train " + shlex.join(sys.argv[1:])
