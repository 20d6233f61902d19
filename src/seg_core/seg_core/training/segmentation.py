"""`train` and `eval`: training (optionally distilling) and evaluating the segmentation models."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from seg_core.data.classes import CITYSCAPES_CLASSES, NUM_CLASSES
from seg_core.data.datasets import CityscapesDataset, SceneArrays
from seg_core.data.drives import drive_frames, low_res_frames
from seg_core.data.scene_cache import cached_scenes
from seg_core.data.transforms import Compose, Resize, training_transform
from seg_core.models import DEFAULT_INPUT_SIZE, MODEL_NAMES, build_model, default_weights, save_checkpoint
from seg_core.training.arguments import add_training_args, drive_args, image_size_arg, model_args
from seg_core.training.evaluation import (
    confusion_lines, evaluate, evaluate_at_input_size, load_model, model_size, test_images, torch_predictor,
)
from seg_core.training.loop import (
    command_line, fit, freeze_backbone, freeze_batchnorm_statistics, init_from, load_frozen, seed_everything,
)
from seg_core.training.losses import distillation_loss, enet_class_weights, segmentation_loss

log = logging.getLogger(__name__)


def make_dataset(args, split: str, count: int, augment: bool) -> Dataset:
    """Training (augmented crops) or validation (whole images) samples at ``args.size``: generated
    scenes are rendered at ``args.image_size`` (the camera's by default) and resized to the model's
    size, as the segmentation nodes resize camera frames, so a model whose input is not the camera's
    aspect learns the squeeze it will see."""
    resize = Resize(*args.size)  # whole frames to the model size, then the augmentations
    transform = resize
    if augment:
        focus = [CITYSCAPES_CLASSES.index(name) for name in args.rare_classes]
        transform = Compose([resize, training_transform(args.crop or args.size, args.augment,
                                                        focus_classes=focus, focus_p=args.rare_crops)])
    if args.data == "generated":
        rgb, labels = cached_scenes(split, count, *args.image_size, args.cache_dir, args.workers)
        return SceneArrays(rgb[:count], labels[:count], transform)
    if not args.cityscapes_root:
        raise SystemExit("--data cityscapes needs --cityscapes-root DIR")
    cs = CityscapesDataset(args.cityscapes_root, split, transform)
    return Subset(cs, range(min(count, len(cs))))


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


def load_teacher(args) -> nn.Module | None:
    return load_frozen(args.teacher, args.teacher_weights, "--teacher")[0] if args.teacher else None


def run_meta(args, history: list[dict]) -> dict:
    return {
        "input_size": list(args.size),
        "command": command_line(),
        "data": {"source": args.data, "image_size": list(args.image_size), "train_split": "train",
                 "train_scenes": args.train_scenes,
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


def eval_frames(args) -> tuple[np.ndarray, np.ndarray, str]:
    """The (rgb, labels) frames `eval` scores, and what they are: the first ``--count`` images of
    a generated split, or (``--drive``) the drive the camera plays; with ``--bitrate`` as decoded
    after the edge encoder's H.264 at that rate (a 30 fps stream)."""
    if args.drive:
        rgb, labels = drive_frames(args.drive_seed, args.drive_frames, tuple(args.image_size), args.sr_cache)
        what = f"{len(rgb)} frames of generated drive {args.drive_seed}"
    else:
        rgb, labels = test_images(args, args.split)
        what = f"{len(rgb)} generated {args.split} images"
    if args.bitrate:
        rgb = low_res_frames(rgb, 1, args.bitrate)[0]
        what += f" through H.264 at {args.bitrate / 1000:g} kbit/s"
    return rgb, labels, what + " at {}x{}".format(*args.image_size)


def cmd_eval(args) -> None:
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    rgb, labels, what = eval_frames(args)
    cm = evaluate_at_input_size(model, size, SceneArrays(rgb, labels))
    print(cm.table())
    print("where the pixels of each class go (largest shares of its pixels predicted as other classes):")
    print("\n".join("  " + line for line in confusion_lines(cm)))
    print(f"mIoU {cm.miou():.4f}  pixel accuracy {cm.pixel_accuracy():.4f}  ({what}, model at {size[0]}x{size[1]})")
    if args.json:
        report = {"model": args.model, "weights": str(args.weights or default_weights(args.model)),
                  "frames": what, "input_size": list(size), "image_size": list(args.image_size),
                  **cm.as_dict(), "confusions": cm.confusions(), "confusion_matrix": cm.matrix.tolist()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the CLI."""
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

    p = sub.add_parser("eval", help="mIoU, pixel accuracy, per-class IoU, confusion matrix")
    model_args(p)
    p.add_argument("--split", choices=("val", "test"), default="test")
    p.add_argument("--count", type=int, default=200)
    image_size_arg(p)
    p.add_argument("--drive", action="store_true",
                   help="score the generated drive the camera plays (--drive-seed, --drive-frames) "
                        "instead of --split")
    drive_args(p)
    p.add_argument("--bitrate", type=int, metavar="BPS",
                   help="score the frames as decoded after H.264 at this rate (the edge encoder's settings)")
    p.add_argument("--json", help="write the report (with the confusion matrix) here")
    p.set_defaults(func=cmd_eval)
