"""Train, evaluate, export and optimise the segmentation models.

    python -m seg_core.train train --model enet --size 512 256 --steps 3000 --out out/enet.pt
    python -m seg_core.train eval --model enet --weights out/enet.pt --count 200
    python -m seg_core.train export-onnx --model enet --weights out/enet.pt --out out/enet.onnx
    python -m seg_core.train quantize --model enet --weights out/enet.pt --out out/enet.int8.onnx
    python -m seg_core.train prune --model enet --weights out/enet.pt --sparsity 0.7 --out out/enet.pruned.pt
    python -m seg_core.train ship --model enet --weights out/enet.pt
    python -m seg_core.train table
    python -m seg_core.train train-sr --model carn_m_x4 --channels 16 --patch 32 32 --out out/carn_m_x4.pt
    python -m seg_core.train train-sr --model carn_m_x4 --init out/carn_m_x4.pt --segmenter icnet --out out/carn_m_x4.tuned.pt
    python -m seg_core.train eval-sr --model carn_m_x4 --segmenter icnet
    python -m seg_core.train cloudseg
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune as torch_prune
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from seg_core.training import cloudseg
from seg_core.data import datasets
from seg_core.training.cost import (
    count_flops, count_parameters, gzip_size, median_latency_ms, state_dict_bytes,
)
from seg_core.data.classes import CITYSCAPES_CLASSES, IGNORE_ID, NUM_CLASSES
from seg_core.models.inference import Segmenter
from seg_core.training.losses import (
    LOSS_NAMES, analytics_sr_loss, distillation_loss, enet_class_weights, segmentation_loss, sr_loss, ssim,
)
from seg_core.training.metrics import ConfusionMatrix, psnr
from seg_core.models import (
    DEFAULT_INPUT_SIZE, MANIFEST_PATH, MODEL_NAMES, SR_DEFAULT_CHANNELS, SR_MODEL_NAMES, WEIGHTS_DIR,
    WeightsError, apply_state_dict, backbone_prefixes, build_model, build_sr_model, default_weights,
    head_prefixes, load_sr_model, load_weights, read_checkpoint, save_checkpoint, sr_scale,
)
from seg_core.models.onnx_export import (
    INPUT_NAME, export_onnx, max_abs_difference, ort_session, quantize_int8,
)
from seg_core.data.scene_cache import (
    AUGMENTATIONS, DEFAULT_CACHE_DIR, SceneArrays, cached_scenes, training_transform,
)
from seg_core.data.sources import SourceConfig
from seg_core.models.super_resolution import (
    DEFAULT_SR_CACHE, TRAIN_DRIVE_SEED, VAL_DRIVE_SEED, SRPairs, drive_frames, low_res_frames,
    segmenter_logits, to_rgb8, to_unit_tensor,
)

log = logging.getLogger("seg_core.train")

BENCH_THREADS = 2
# Test images are rendered and scored at the camera's size, whatever size a model runs at:
# each model sees them resized to its input, as the segmentation nodes do.
CAMERA_SIZE = (SourceConfig.width, SourceConfig.height)
# Small and thin classes that --rare-crops centres crops on.
SMALL_CLASSES = ("wall", "fence", "pole", "traffic light", "traffic sign", "person", "rider",
                 "motorcycle", "bicycle")
Predictor = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------- data

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_dataset(args, split: str, count: int, augment: bool) -> Dataset:
    """Training (augmented crops) or validation (whole images) samples at ``args.size``."""
    w, h = args.size
    transform = None
    if augment:
        focus = [CITYSCAPES_CLASSES.index(name) for name in args.rare_classes]
        transform = training_transform(args.crop or args.size, args.augment, focus_classes=focus,
                                       focus_p=args.rare_crops)
    if args.data == "generated":
        rgb, labels = cached_scenes(split, count, w, h, args.cache_dir, args.workers)
        return SceneArrays(rgb[:count], labels[:count], transform)
    if not args.cityscapes_root:
        raise SystemExit("--data cityscapes needs --cityscapes-root DIR")
    resize = datasets.Resize(w, h)  # whole frames to the model size, then the augmentations
    cs = datasets.CityscapesDataset(
        args.cityscapes_root, split, datasets.Compose([resize, transform]) if transform else resize
    )
    return Subset(cs, range(min(count, len(cs))))


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


# ----------------------------------------------------------------------------- evaluation

def torch_predictor(model: nn.Module, bf16: bool = False) -> Predictor:
    """Batched argmax labels of a torch model (channels_last, optionally bf16 autocast)."""
    model = model.eval().to(memory_format=torch.channels_last)

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(x.contiguous(memory_format=torch.channels_last)).argmax(1)

    return predict


def at_input_size(predict: Predictor, input_size: tuple[int, int]) -> Predictor:
    """``predict`` run on images resized to ``input_size`` (w, h, bilinear), its labels resized
    back to the images' size (nearest), as the Segmenter does for camera frames."""
    w, h = input_size

    def resized(x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        if size == (h, w):
            return predict(x)
        labels = predict(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False))
        return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()

    return resized


def onnx_predictor(session) -> Predictor:
    def predict(x: torch.Tensor) -> torch.Tensor:
        outs = [session.run(None, {INPUT_NAME: x[i:i + 1].numpy()})[0] for i in range(len(x))]
        return torch.from_numpy(np.concatenate(outs).argmax(1))

    return predict


def evaluate(predict: Predictor, dataset: Dataset, count: int, batch: int = 8,
             desc: str = "eval") -> ConfusionMatrix:
    cm = ConfusionMatrix(NUM_CLASSES, IGNORE_ID)
    loader = DataLoader(Subset(dataset, range(min(count, len(dataset)))), batch_size=batch)
    for x, y in tqdm(loader, desc=desc, leave=False, dynamic_ncols=True):
        cm.update(predict(x).numpy(), y.numpy())
    return cm


def generated_scenes(size: tuple[int, int], count: int, split: str = "test",
                     cache_dir: Path = DEFAULT_CACHE_DIR) -> Dataset:
    """The first ``count`` scenes of a generated split at ``size``, rendered once into the cache."""
    w, h = size
    rgb, labels = cached_scenes(split, count, w, h, cache_dir)
    return SceneArrays(rgb[:count], labels[:count])


# ----------------------------------------------------------------------------- training

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


def training_loss(args, model, teacher, x, y, class_weights=None) -> torch.Tensor:
    with torch.autocast("cpu", torch.bfloat16, enabled=args.bf16):
        logits = model(x)
    loss = segmentation_loss(logits, y, args.loss, class_weights=class_weights, ohem_keep=args.ohem)
    if teacher is not None:
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=args.bf16):
            teacher_logits = teacher(x)
        kd = distillation_loss(logits, teacher_logits, y, args.kd_temperature)
        loss = (1.0 - args.kd_alpha) * loss + args.kd_alpha * kd
    return loss


def training_class_weights(args, train_set: Dataset) -> torch.Tensor | None:
    """ENet's 1/ln(1.02 + p) weights from the training labels' class shares (--class-weights enet)."""
    if args.class_weights == "none":
        return None
    if not isinstance(train_set, SceneArrays):
        raise SystemExit("--class-weights needs the generated scenes (their labels are counted)")
    counts = np.zeros(NUM_CLASSES, np.int64)
    for labels in train_set.labels:
        counts += np.bincount(labels.ravel(), minlength=256)[:NUM_CLASSES]
    weights = enet_class_weights(counts)
    log.info("class weights: %s", ", ".join(f"{n} {w:.1f}" for n, w in zip(CITYSCAPES_CLASSES, weights.tolist())))
    return weights


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
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=args.warmup, div_factor=10.0,
        final_div_factor=100.0,
    )
    step, history = 0, []
    if resume:
        state = torch.load(resume, map_location="cpu", weights_only=True)
        if state["total_steps"] != args.steps:
            raise SystemExit(f"{resume} belongs to a {state['total_steps']}-step schedule; "
                             f"resume it with --steps {state['total_steps']}")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        log.info("resumed %s at step %d", resume, step)
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
    if resume:  # after the loader has drawn its seed, as it had in the interrupted run
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


def fit_segmentation(args, model: nn.Module, teacher: nn.Module | None, state_path: Path,
                     resume: str | None = None) -> list[dict]:
    """Train a segmentation model (optionally distilling ``teacher``) on ``args``' data."""
    train_set = make_dataset(args, "train", args.train_scenes, augment=True)
    val_set = make_dataset(args, "val", args.eval_count, augment=False)
    class_weights = training_class_weights(args, train_set)
    if teacher is not None:
        teacher.eval().to(memory_format=torch.channels_last)

    def step_loss(batch):
        x, y = batch
        return training_loss(args, model, teacher, x.contiguous(memory_format=torch.channels_last), y,
                             class_weights)

    def validate():
        cm = evaluate(torch_predictor(model), val_set, args.eval_count, desc="val")
        return {"val_miou": cm.miou(), "val_pixel_accuracy": cm.pixel_accuracy()}

    def train_mode():
        model.train()
        if args.freeze_backbone:
            freeze_batchnorm_statistics(model, args.model)

    return fit(args, model, train_set, step_loss, validate, state_path, resume, train_mode)


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


def load_teacher(args) -> nn.Module | None:
    return load_frozen(args.teacher, args.teacher_weights, "--teacher")[0] if args.teacher else None


def command_line() -> str:
    return "python -m seg_core.train " + shlex.join(sys.argv[1:])


def run_meta(args, history: list[dict]) -> dict:
    return {
        "input_size": list(args.size),
        "command": command_line(),
        "data": {"source": args.data, "train_split": "train", "train_scenes": args.train_scenes,
                 "val_split": "val", "seed": args.seed},
        "history": history,
    }


def cmd_train(args) -> None:
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    model = build_model(args.model, NUM_CLASSES)
    if args.init:
        init_from(model, args.model, args.init)
    if args.freeze_backbone:
        freeze_backbone(model, args.model)
    out = Path(args.out)
    history = fit_segmentation(args, model, load_teacher(args), out.with_suffix(".state.pt"), args.resume)
    save_checkpoint(model, out, args.model, NUM_CLASSES, fp16=args.fp16, **run_meta(args, history))
    print(f"wrote {out}")


# ----------------------------------------------------------------------------- super-resolution

def sr_drive_data(args, seeds: list[int], every: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low-resolution, high-resolution, labels) frames of generated drives at ``--size``, every
    ``every``-th frame; the low-resolution ones were sent the way ``--lr-data`` says."""
    bitrate = args.bitrate if args.lr_data == "h264" else None
    kept = len(range(0, args.drive_frames, every))
    arrays = None
    for k, seed in enumerate(tqdm(seeds, desc=f"drives ({args.lr_data})", dynamic_ncols=True)):
        hr, labels = drive_frames(seed, args.drive_frames, tuple(args.size), args.sr_cache)
        lr, _ = low_res_frames(hr, sr_scale(args.model), bitrate)
        parts = (lr[::every], hr[::every], labels[::every])
        if arrays is None:  # filled in place: the rendered drives are far larger than what is kept
            arrays = tuple(np.empty((kept * len(seeds), *a.shape[1:]), a.dtype) for a in parts)
        for out, part in zip(arrays, parts):
            out[k * kept:(k + 1) * kept] = part
    return arrays


def sr_validation(model: nn.Module, lr: np.ndarray, hr: np.ndarray, labels: np.ndarray,
                  segmenter: nn.Module | None, segmenter_size: tuple[int, int] | None,
                  batch: int = 4) -> dict[str, float]:
    """Mean PSNR and SSIM of the model's (8-bit) output, and the segmenter's mIoU on it."""
    psnrs, ssims, cm = [], [], ConfusionMatrix(NUM_CLASSES, IGNORE_ID)
    with torch.inference_mode():
        for i in range(0, len(lr), batch):
            x = torch.stack([to_unit_tensor(f) for f in lr[i:i + batch]])
            sr = [to_rgb8(f) for f in model(x.contiguous(memory_format=torch.channels_last))]
            for out, ref in zip(sr, hr[i:i + batch]):
                psnrs.append(psnr(out, ref))
                ssims.append(ssim(to_unit_tensor(out)[None], to_unit_tensor(ref)[None]).item())
            if segmenter is not None:
                x = torch.stack([to_unit_tensor(f) for f in sr])
                cm.update(segmenter_logits(segmenter, x, segmenter_size).argmax(1).numpy(), labels[i:i + batch])
    metrics = {"val_psnr": float(np.mean(psnrs)), "val_ssim": float(np.mean(ssims))}
    return {**metrics, "val_miou": cm.miou()} if segmenter is not None else metrics


def cmd_train_sr(args) -> None:
    """Base SR training (L1 + SSIM) or, with --segmenter, analytics-aware fine-tuning."""
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    if args.init:
        model, init_meta = load_sr_model(args.model, args.init)
        if args.channels not in (None, model.channels):
            raise SystemExit(f"--channels {args.channels} differs from {args.init} ({model.channels})")
    else:
        model = build_sr_model(args.model, args.channels or SR_DEFAULT_CHANNELS)
    segmenter, segmenter_size = None, None
    if args.segmenter:
        segmenter, meta = load_frozen(args.segmenter, args.segmenter_weights, "--segmenter")
        segmenter_size = tuple(meta.get("input_size") or DEFAULT_INPUT_SIZE)
    lr, hr, labels = sr_drive_data(args, [TRAIN_DRIVE_SEED + k for k in range(args.drives)], args.every)
    train_set = SRPairs(lr, hr, model.scale, args.patch, labels if segmenter is not None else None)
    val = sr_drive_data(args, [VAL_DRIVE_SEED], max(1, args.drive_frames // args.eval_count))
    log.info("%d training pairs %dx%d -> %dx%d (%s)", len(train_set), lr.shape[2], lr.shape[1],
             hr.shape[2], hr.shape[1], args.lr_data)

    def step_loss(batch):
        lr_x, hr_x = (t.contiguous(memory_format=torch.channels_last) for t in batch[:2])
        sr = model(lr_x)
        if segmenter is None:
            return sr_loss(sr, hr_x, args.ssim_weight)
        with torch.no_grad():
            hr_logits = segmenter_logits(segmenter, hr_x, segmenter_size)
        return analytics_sr_loss(segmenter_logits(segmenter, sr, segmenter_size), hr_logits, batch[2], sr,
                                 hr_x, args.ce_weight, args.pixel_weight)

    out = Path(args.out)
    history = fit(args, model, train_set, step_loss,
                  lambda: sr_validation(model, *val, segmenter, segmenter_size), out.with_suffix(".state.pt"),
                  args.resume)
    previous = init_meta.get("command") if args.init else None
    commands = ([previous] if isinstance(previous, str) else list(previous or [])) + [command_line()]
    save_checkpoint(
        model, out, args.model, None, fp16=args.fp16, channels=model.channels, scale=model.scale,
        hr_size=list(args.size), command=commands if len(commands) > 1 else commands[0],
        lr_data={"kind": args.lr_data, "bitrate": args.bitrate if args.lr_data == "h264" else None,
                 "fps": 30.0, "gop": 30},
        segmenter=args.segmenter, history=history,
        data={"source": "generated drives", "train_seeds": [TRAIN_DRIVE_SEED, TRAIN_DRIVE_SEED + args.drives - 1],
              "frames_per_drive": args.drive_frames, "every": args.every, "val_seed": VAL_DRIVE_SEED},
    )
    print(f"wrote {out}")


# ----------------------------------------------------------------------------- eval / export

def load_model(name: str, weights: str | None) -> tuple[nn.Module, dict]:
    model = build_model(name, NUM_CLASSES)
    path = weights or default_weights(name)
    if path is None:
        raise WeightsError(f"no weights given and none shipped for {name!r}")
    return model.eval(), load_weights(model, path)


def model_size(args, meta: dict) -> tuple[int, int]:
    return tuple(args.size or meta.get("input_size") or DEFAULT_INPUT_SIZE)


def metrics_summary(cm: ConfusionMatrix) -> dict:
    return {"miou": round(cm.miou(), 4), "pixel_accuracy": round(cm.pixel_accuracy(), 4)}


def evaluate_at_camera_size(model: nn.Module, input_size: tuple[int, int], args, split: str = "test",
                            desc: str = "eval") -> ConfusionMatrix:
    """The model at ``input_size`` on ``args.count`` generated images of ``split`` rendered and
    scored at ``args.image_size`` (the camera's by default)."""
    data = generated_scenes(tuple(args.image_size), args.count, split, args.cache_dir)
    return evaluate(at_input_size(torch_predictor(model), input_size), data, args.count, desc=desc)


def confusion_lines(cm: ConfusionMatrix) -> list[str]:
    return [f"{name}: " + ", ".join(f"{other} {100 * share:.1f} %" for other, share in goes)
            for name, goes in cm.confusions().items() if goes]


def cmd_eval(args) -> None:
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    cm = evaluate_at_camera_size(model, size, args, args.split, desc=f"eval {args.split}")
    print(cm.table())
    print("where the pixels of each class go (largest shares of its pixels predicted as other classes):")
    print("\n".join("  " + line for line in confusion_lines(cm)))
    iw, ih = args.image_size
    print(f"mIoU {cm.miou():.4f}  pixel accuracy {cm.pixel_accuracy():.4f}  ({args.count} generated "
          f"{args.split} images at {iw}x{ih}, model at {size[0]}x{size[1]})")
    if args.json:
        report = {"model": args.model, "weights": str(args.weights or default_weights(args.model)),
                  "split": args.split, "count": args.count, "input_size": list(size),
                  "image_size": list(args.image_size), **cm.as_dict(), "confusions": cm.confusions(),
                  "confusion_matrix": cm.matrix.tolist()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


def cmd_export(args) -> None:
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    out = export_onnx(model, args.out, size)
    diff = max_abs_difference(model, out, size)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), max |torch - onnxruntime| = {diff:.2e}")
    if diff > 1e-3:
        raise SystemExit(f"onnxruntime output differs from torch by {diff:.2e}")


def calibration_batches(size: tuple[int, int], count: int, cache_dir: Path) -> Iterator[np.ndarray]:
    val = generated_scenes(size, count, "val", cache_dir)
    for i in tqdm(range(count), desc="calibrate", leave=False, dynamic_ncols=True):
        yield val[i][0][None].numpy()


def cmd_quantize(args) -> None:
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", size)
        out = quantize_int8(fp32, args.out, calibration_batches(size, args.calibration, args.cache_dir))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


# ----------------------------------------------------------------------------- pruning

def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def sparsity(model: nn.Module) -> float:
    weights = [getattr(m, n) for m, n in prunable(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def cmd_prune(args) -> None:
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.weights)
    args.size = model_size(args, meta)
    torch_prune.global_unstructured(prunable(model), torch_prune.L1Unstructured, amount=args.sparsity)
    out = Path(args.out)
    history = fit_segmentation(args, model, None, out.with_suffix(".state.pt")) if args.steps else []
    for module, name in prunable(model):
        torch_prune.remove(module, name)
    source = Path(args.weights) if args.weights else default_weights(args.model)
    save_checkpoint(model, out, args.model, NUM_CLASSES, fp16=args.fp16, **run_meta(args, history),
                    sparsity=round(sparsity(model), 4), pruned_from=sha256(source))
    dense, _ = load_model(args.model, args.weights)
    dense_bytes = state_dict_bytes({
        k: v.half() if args.fp16 and v.is_floating_point() else v for k, v in dense.state_dict().items()
    })
    dense_gz, pruned_gz = gzip_size(dense_bytes), gzip_size(out)
    print(f"wrote {out}: conv weight sparsity {sparsity(model):.1%}\n"
          f"  dense  {len(dense_bytes) / 1e6:.2f} MB, gzip {dense_gz / 1e6:.2f} MB\n"
          f"  pruned {out.stat().st_size / 1e6:.2f} MB, gzip {pruned_gz / 1e6:.2f} MB "
          f"({pruned_gz / dense_gz - 1:+.0%} compressed size on disk)")


# ----------------------------------------------------------------------------- shipping

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.is_file() else {}


def file_entry(path: Path, **fields) -> dict:
    return {**fields, "sha256": sha256(path), "size_bytes": path.stat().st_size}


def cmd_ship(args) -> None:
    """Store ``--weights`` as fp16 shipped weights (and optionally their ONNX export) and record
    them in the manifest."""
    if args.model in SR_MODEL_NAMES:
        return ship_sr(args)
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    dest = WEIGHTS_DIR / f"{args.model}.pt"
    kept = {k: v for k, v in meta.items() if k not in ("model", "num_classes", "input_size")}
    save_checkpoint(model, dest, args.model, NUM_CLASSES, fp16=True, input_size=list(size), **kept)
    shipped = build_model(args.model, NUM_CLASSES)
    load_weights(shipped, dest)
    cm = evaluate_at_camera_size(shipped, size, args, desc="test")
    manifest = read_manifest()
    manifest[dest.name] = file_entry(
        dest, model=args.model, command=meta.get("command"), data=meta.get("data"),
        input_size=list(size), dtype="float16",
        metrics={**metrics_summary(cm), "split": "test", "count": args.count,
                 "image_size": list(args.image_size),
                 "eval_command": f"python -m seg_core.train eval --model {args.model} "
                                 f"--split test --count {args.count}",
                 "iou": {k: None if v is None else round(v, 4) for k, v in cm.as_dict()["iou"].items()},
                 "confusions": cm.confusions()},
    )
    onnx_path = dest.with_suffix(".onnx")
    if args.onnx:
        export_onnx(shipped, onnx_path, size)
        manifest[onnx_path.name] = file_entry(
            onnx_path, model=args.model, exported_from=dest.name, input_size=list(size),
            dtype="float32", command=f"python -m seg_core.train export-onnx --model {args.model} "
                                     f"--weights {dest.name} --out {onnx_path.name}",
        )
    elif onnx_path.is_file():  # an export of the previous weights would no longer match
        onnx_path.unlink()
        manifest.pop(onnx_path.name, None)
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {dest} ({dest.stat().st_size / 1e6:.2f} MB): test mIoU {cm.miou():.4f}")


def ship_sr(args) -> None:
    """Store SR weights as fp16 (``--variant``: beside the main ones, for comparison) and record
    them, with their PSNR / SSIM / mIoU on the test images, in the manifest."""
    torch.set_num_threads(args.threads)
    model, meta = load_sr_model(args.model, args.weights)
    dest = WEIGHTS_DIR / (f"{args.model}.pt" if args.variant is None else f"{args.model}.{args.variant}.pt")
    save_checkpoint(model, dest, args.model, None, fp16=True, **{k: v for k, v in meta.items() if k != "model"})
    bitrate = meta.get("lr_data", {}).get("bitrate")
    segmenter = Segmenter("icnet") if default_weights("icnet") else None
    rows = cloudseg.evaluate_sr(args.model, dest, test_images(args), bitrate, segmenter)
    variant = f" --variant {args.variant}" if args.variant else ""
    manifest = read_manifest()
    manifest[dest.name] = file_entry(
        dest, model=args.model, command=meta.get("command"), data=meta.get("data"), lr_data=meta.get("lr_data"),
        channels=meta.get("channels"), segmenter=meta.get("segmenter"), dtype="float16",
        metrics={"test": rows, "count": args.count, "image_size": list(args.image_size),
                 "segmenter": "icnet" if segmenter else None,
                 "eval_command": f"python -m seg_core.train eval-sr --model {args.model}{variant} --count {args.count}"},
    )
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {dest} ({dest.stat().st_size / 1e3:.0f} kB): " + "; ".join(
        f"{r['method']} PSNR {r['psnr']:.2f} dB" for r in rows))


def test_images(args) -> tuple[np.ndarray, np.ndarray]:
    """The first ``args.count`` generated test images at ``args.image_size``: (rgb, labels) uint8."""
    rgb, labels = cached_scenes("test", args.count, *args.image_size, args.cache_dir)
    return rgb[:args.count], labels[:args.count]


def cmd_eval_sr(args) -> None:
    torch.set_num_threads(args.threads)
    weights = args.weights or default_weights(args.model, args.variant)
    segmenter = Segmenter(args.segmenter) if args.segmenter else None
    bitrate = None if args.lr_data == "clean" else args.bitrate
    rows = cloudseg.evaluate_sr(args.model, weights, test_images(args), bitrate, segmenter)
    sent = "downscaled only" if bitrate is None else f"through H.264 at {bitrate / 1000:g} kbit/s"
    print(f"{args.count} test images at {args.image_size[0]}x{args.image_size[1]}, sent at 1/{sr_scale(args.model)} "
          f"{sent}; {weights}")
    for r in rows:
        print("  ".join(f"{k} {v}" for k, v in r.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


def cmd_cloudseg(args) -> None:
    torch.set_num_threads(args.threads)
    segmenters, sr_weights, clean_sr = cloudseg.shipped_models()
    test = test_images(args)
    drive = drive_frames(args.drive_seed, args.drive_frames, tuple(args.image_size), args.sr_cache)
    report = cloudseg.build_report(test, drive, segmenters, sr_weights, clean_sr, args.drive_every, args.runs,
                                   command_line())
    cloudseg.write_report(report, Path(args.json), Path(args.markdown), Path(args.png))
    for goal in report["goals"]:
        print(f"{'met' if goal['met'] else 'NOT MET'}: {goal['goal']}: {goal['measured']}")
    print(f"wrote {args.markdown}, {args.json} and {args.png}")


# ----------------------------------------------------------------------------- table

def cmd_table(args) -> None:
    torch.set_num_threads(BENCH_THREADS)
    artifacts = Path(args.artifacts)
    rows = []
    for name in MODEL_NAMES:
        path = default_weights(name)
        if path is None:
            continue
        model, meta = load_model(name, str(path))
        size = tuple(meta.get("input_size") or DEFAULT_INPUT_SIZE)
        w, h = size
        data = generated_scenes(tuple(args.image_size), args.count, "test", args.cache_dir)
        x = torch.zeros(1, 3, h, w)
        flops = count_flops(model, size)
        fp32_onnx = export_onnx(model, artifacts / f"{name}.onnx", size)
        int8_onnx = quantize_int8(fp32_onnx, artifacts / f"{name}.int8.onnx",
                                  calibration_batches(size, args.calibration, args.cache_dir))
        variants = [
            ("torch fp32 channels_last", model, torch_predictor(model), path),
            ("torch bf16 channels_last", model, torch_predictor(model, bf16=True), path),
            ("onnxruntime fp32", model, onnx_predictor(ort_session(fp32_onnx, BENCH_THREADS)), fp32_onnx),
            ("onnxruntime int8", model, onnx_predictor(ort_session(int8_onnx, BENCH_THREADS)), int8_onnx),
        ]
        pruned_path = artifacts / f"{name}.pruned.pt"
        if pruned_path.is_file():
            pruned = build_model(name, NUM_CLASSES)
            pruned_meta = load_weights(pruned, pruned_path)
            if pruned_meta.get("pruned_from") == sha256(path):
                variants.append((f"torch fp32 pruned {pruned_meta['sparsity']:.0%}", pruned,
                                 torch_predictor(pruned), pruned_path))
            else:
                log.warning("%s was not pruned from the shipped %s; prune again to list it",
                            pruned_path, path.name)
        for variant, net, predict, file in variants:
            cm = evaluate(at_input_size(predict, size), data, args.count, desc=f"{name} {variant}")
            load = os.getloadavg()[0]
            latency = median_latency_ms(lambda: predict(x), runs=args.runs)
            rows.append({
                "model": name, "variant": variant, "input_size": list(size),
                "params": count_parameters(net),
                "nonzero_params": sum(int(p.count_nonzero()) for p in net.parameters()),
                "gflops": round(flops / 1e9, 3), "file": file.name,
                "size_mb": round(file.stat().st_size / 1e6, 2),
                "gzip_mb": round(gzip_size(file) / 1e6, 2),
                "latency_ms": round(latency, 2), "fps": round(1000.0 / latency, 1),
                "load_average": round(max(load, os.getloadavg()[0]), 2),
                "miou": round(cm.miou(), 4),
                "iou": {k: None if v is None else round(v, 4) for k, v in cm.as_dict()["iou"].items()},
                "confusions": cm.confusions(),
            })
            print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("iou", "confusions")}))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    Path(args.markdown).write_text(models_markdown(rows, args))
    print(f"wrote {args.markdown} and {args.json}")


def models_markdown(rows: list[dict], args) -> str:
    lines = [
        "# Models",
        "",
        "Shipped weights and their optimised variants. Latency is the median of "
        f"{args.runs} single-image forward passes at the model's input size on {BENCH_THREADS} "
        "CPU threads (argmax included, pre/post-processing not); mIoU is measured on the first "
        f"{args.count} images of the generated test split, rendered at the camera's "
        f"{args.image_size[0]} x {args.image_size[1]}, resized to the model's input and its labels "
        "back, as the segmentation nodes do. FLOPs count multiplies "
        "and adds separately (torch.utils.flop_counter); the pruned variant keeps the dense "
        "FLOPs since unstructured zeros are not skipped. The load column is the 1-minute load "
        "average during the timing: on a shared machine, timings taken at a load above the core "
        "count are inflated. Regenerate with `python -m seg_core.train table`.",
        "",
        "| model | variant | input (w x h) | params (M) | nonzero (M) | GFLOPs | file | size (MB) "
        "| gzip (MB) | latency (ms) | fps | load | mIoU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['input_size'][0]} x {r['input_size'][1]} "
            f"| {r['params'] / 1e6:.2f} | {r['nonzero_params'] / 1e6:.2f} | {r['gflops']:.2f} "
            f"| {r['file']} | {r['size_mb']:.2f} | {r['gzip_mb']:.2f} | {r['latency_ms']:.1f} "
            f"| {r['fps']:.1f} | {r['load_average']:.1f} | {r['miou']:.4f} |"
        )
    shipped = [r for r in rows if r["variant"] == rows[0]["variant"]]   # each model's torch fp32 row
    iw, ih = args.image_size
    lines += [
        "",
        "## Per class",
        "",
        f"IoU (%) per class of each shipped model (torch fp32) on the same {args.count} test images, "
        f"rendered at the camera's {iw} x {ih} and given to each model at its input size.",
        "",
        "| class | " + " | ".join(f"{r['model']} ({r['input_size'][0]} x {r['input_size'][1]})" for r in shipped) + " |",
        "|---|" + "---|" * len(shipped),
    ]
    for name in CITYSCAPES_CLASSES:
        cells = ["n/a" if r["iou"][name] is None else f"{100 * r['iou'][name]:.1f}" for r in shipped]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Where the pixels go", "",
              "Per class, the other classes taking the largest shares of its pixels (at least 1 %).", ""]
    for r in shipped:
        lines += [f"**{r['model']}**", ""]
        lines += [f"- {name}: " + ", ".join(f"{other} {100 * share:.1f} %" for other, share in goes)
                  for name, goes in r["confusions"].items() if goes]
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI

def add_training_args(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--data", choices=("generated", "cityscapes"), default="generated")
    p.add_argument("--cityscapes-root", help="Cityscapes root (leftImg8bit/, gtFine/)")
    p.add_argument("--crop", type=int, nargs=2, metavar=("W", "H"),
                   help="random training crop (default: the whole --size image)")
    p.add_argument("--augment", nargs="*", choices=AUGMENTATIONS, default=list(AUGMENTATIONS),
                   help="training augmentations (none when given without names)")
    p.add_argument("--train-scenes", type=int, default=3000,
                   help="generated training scenes, rendered once into --cache-dir")
    p.add_argument("--loss", choices=LOSS_NAMES, default="ce+iou")
    p.add_argument("--workers", type=int, default=1,
                   help="data loader processes (and scene rendering processes)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward passes")
    p.add_argument("--class-weights", choices=("none", "enet"), default="none",
                   help="weigh the cross-entropy by class: enet = 1/ln(1.02 + class share of the training pixels)")
    p.add_argument("--ohem", type=float, default=0.0, metavar="KEEP",
                   help="cross-entropy over the hard pixels only (true-class probability < 0.7), "
                        "at least this fraction of them (0: every pixel)")
    p.add_argument("--rare-crops", type=float, default=0.0, metavar="P",
                   help="with probability P centre a training crop on a pixel of a --rare-classes class")
    p.add_argument("--rare-classes", nargs="+", choices=CITYSCAPES_CLASSES, default=list(SMALL_CLASSES),
                   metavar="CLASS", help="classes --rare-crops looks for")
    add_optimisation_args(p, steps, lr=2e-3, weight_decay=1e-4)


def add_optimisation_args(p: argparse.ArgumentParser, steps: int, lr: float, weight_decay: float) -> None:
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=lr, help="peak learning rate (OneCycle)")
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of steps warming up")
    p.add_argument("--weight-decay", type=float, default=weight_decay)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=500, help="validate every K steps (0: never)")
    p.add_argument("--eval-count", type=int, default=64, help="validation images")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--fp16", action="store_true", help="store the final weights as float16")
    p.add_argument("--out", required=True)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m seg_core.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                    help="where generated scenes are rendered once and kept")
    sub = ap.add_subparsers(dest="command", required=True)

    def model_args(p, weights_required=False, choices=MODEL_NAMES):
        p.add_argument("--model", choices=choices, required=True)
        p.add_argument("--weights", required=weights_required,
                       help="checkpoint (default: the shipped weights)")
        p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"),
                       help="input size (default: the checkpoint's)")

    p = sub.add_parser("train", help="train or fine-tune a model")
    p.add_argument("--model", choices=MODEL_NAMES, required=True)
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=list(DEFAULT_INPUT_SIZE),
                   help="image size the model is trained and run at")
    add_training_args(p, steps=3000)
    p.add_argument("--teacher", choices=MODEL_NAMES, help="distil from this model")
    p.add_argument("--teacher-weights", help="teacher checkpoint (default: its shipped weights)")
    p.add_argument("--kd-temperature", type=float, default=2.0)
    p.add_argument("--kd-alpha", type=float, default=0.5, help="weight of the distillation loss")
    p.add_argument("--init", help="start from this state dict (e.g. an official torchvision one)")
    p.add_argument("--freeze-backbone", action="store_true", help="train only the classifier head")
    p.add_argument("--resume", help="training state (<out>.state.pt) to continue from")
    p.set_defaults(func=cmd_train)

    def image_size_arg(p):
        p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=list(CAMERA_SIZE),
                       help="size the test images are rendered and scored at (default: the camera's)")

    p = sub.add_parser("train-sr", help="train a super-resolution model (CARN) on generated drives; "
                                        "with --segmenter, analytics-aware fine-tuning")
    p.add_argument("--model", choices=SR_MODEL_NAMES, required=True)
    p.add_argument("--channels", type=int,
                   help=f"feature width (default: --init's, else {SR_DEFAULT_CHANNELS} as in the paper)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=list(CAMERA_SIZE),
                   help="high-resolution (camera) frame size")
    p.add_argument("--lr-data", choices=("h264", "clean"), default="h264",
                   help="low-resolution inputs: through the H.264 codec at --bitrate, or downscaled only")
    p.add_argument("--bitrate", type=int, default=120_000, help="bits/s of the low-resolution stream (30 fps)")
    p.add_argument("--drives", type=int, default=16, help="generated training drives")
    p.add_argument("--drive-frames", type=int, default=240, help="consecutive frames per drive (30 fps)")
    p.add_argument("--every", type=int, default=2, help="train on every K-th frame of a drive")
    p.add_argument("--sr-cache", type=Path, default=DEFAULT_SR_CACHE, help="where rendered drives are kept")
    p.add_argument("--patch", type=int, nargs=2, metavar=("W", "H"),
                   help="random crop in low-resolution pixels (default: whole frames)")
    p.add_argument("--ssim-weight", type=float, default=0.84, help="pixel loss = (1-w) L1 + w (1-SSIM)")
    p.add_argument("--segmenter", choices=MODEL_NAMES,
                   help="analytics-aware fine-tuning with this frozen segmenter in the loop")
    p.add_argument("--segmenter-weights", help="its checkpoint (default: its shipped weights)")
    p.add_argument("--ce-weight", type=float, default=0.5, help="weight of cross-entropy on the SR frame")
    p.add_argument("--pixel-weight", type=float, default=1.0, help="weight of the pixel loss when fine-tuning")
    p.add_argument("--init", help="start from these SR weights (e.g. the base model to fine-tune)")
    p.add_argument("--resume", help="training state (<out>.state.pt) to continue from")
    add_optimisation_args(p, steps=4000, lr=1e-3, weight_decay=0.0)
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.set_defaults(func=cmd_train_sr)

    p = sub.add_parser("eval", help="mIoU, pixel accuracy, per-class IoU, confusion matrix")
    model_args(p)
    p.add_argument("--split", choices=("val", "test"), default="test")
    p.add_argument("--count", type=int, default=200)
    image_size_arg(p)
    p.add_argument("--json", help="write the report (with the confusion matrix) here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export-onnx", help="export to ONNX and check it against torch")
    model_args(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("quantize", help="int8 static quantization with onnxruntime")
    model_args(p)
    p.add_argument("--calibration", type=int, default=32, help="generated val images")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("prune", help="global magnitude pruning, fine-tuning, made permanent")
    p.add_argument("--model", choices=MODEL_NAMES, required=True)
    p.add_argument("--weights", help="checkpoint to prune (default: the shipped weights)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"))
    p.add_argument("--sparsity", type=float, default=0.7, help="fraction of conv weights zeroed")
    add_training_args(p, steps=300)
    p.set_defaults(func=cmd_prune, lr=5e-4, teacher=None, init=None, freeze_backbone=False)

    p = sub.add_parser("eval-sr", help="PSNR, SSIM (and mIoU) of an SR model against bilinear and bicubic")
    p.add_argument("--model", choices=SR_MODEL_NAMES, required=True)
    p.add_argument("--weights", help="checkpoint (default: the shipped weights)")
    p.add_argument("--variant", help="shipped variant (e.g. base: before analytics-aware fine-tuning)")
    p.add_argument("--lr-data", choices=("h264", "clean"), default="h264")
    p.add_argument("--bitrate", type=int, default=cloudseg.CLOUDSEG_BITRATE, help="bits/s at 30 fps")
    p.add_argument("--segmenter", choices=MODEL_NAMES, help="also score this segmenter's mIoU on the upscaled images")
    p.add_argument("--count", type=int, default=200)
    image_size_arg(p)
    p.add_argument("--json", help="write the rows here")
    p.set_defaults(func=cmd_eval_sr)

    p = sub.add_parser("cloudseg", help="write docs/cloudseg.{md,json} and docs/cloudseg_bandwidth_miou.png")
    p.add_argument("--count", type=int, default=200, help="generated test images")
    image_size_arg(p)
    p.add_argument("--drive-seed", type=int, default=7, help="the generated drive (the camera's default)")
    p.add_argument("--drive-frames", type=int, default=300)
    p.add_argument("--drive-every", type=int, default=2, help="score every K-th drive frame")
    p.add_argument("--sr-cache", type=Path, default=DEFAULT_SR_CACHE)
    p.add_argument("--runs", type=int, default=30, help="timed runs per latency figure")
    p.add_argument("--markdown", default="docs/cloudseg.md")
    p.add_argument("--json", default="docs/cloudseg.json")
    p.add_argument("--png", default="docs/cloudseg_bandwidth_miou.png")
    p.set_defaults(func=cmd_cloudseg)

    p = sub.add_parser("ship", help="store weights as fp16 in the package and update the manifest")
    model_args(p, weights_required=True, choices=MODEL_NAMES + SR_MODEL_NAMES)
    p.add_argument("--variant", help="SR models: ship as <model>.<variant>.pt beside the main weights")
    p.add_argument("--count", type=int, default=200, help="generated test images to evaluate")
    p.add_argument("--onnx", action="store_true", help="also ship an ONNX export beside the weights")
    image_size_arg(p)
    p.set_defaults(func=cmd_ship)

    p = sub.add_parser("table", help="write docs/models.md comparing the shipped models")
    p.add_argument("--count", type=int, default=100, help="generated test images for mIoU")
    p.add_argument("--runs", type=int, default=30, help="timed runs per variant")
    p.add_argument("--calibration", type=int, default=32)
    p.add_argument("--artifacts", default="out/table", help="where ONNX variants are written")
    p.add_argument("--markdown", default="docs/models.md")
    image_size_arg(p)
    p.add_argument("--json", default="docs/models.json")
    p.set_defaults(func=cmd_table)
    return ap


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    start = time.perf_counter()
    args.func(args)
    log.info("%s done in %.0f s", args.command, time.perf_counter() - start)


if __name__ == "__main__":
    main()
