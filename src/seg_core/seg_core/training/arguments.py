"""Command-line arguments shared by the `python -m seg_core.train` subcommands."""
from __future__ import annotations

import argparse
from pathlib import Path

from seg_core.data.classes import CITYSCAPES_CLASSES
from seg_core.data.drives import DEFAULT_SR_CACHE
from seg_core.data.transforms import AUGMENTATIONS
from seg_core.models import MODEL_NAMES
from seg_core.training.evaluation import CAMERA_SIZE
from seg_core.training.losses import LOSS_NAMES

# Small and thin classes that --rare-crops centres crops on.
SMALL_CLASSES = ("wall", "fence", "pole", "traffic light", "traffic sign", "person", "rider",
                 "motorcycle", "bicycle")


def model_args(p: argparse.ArgumentParser, weights_required: bool = False, choices=MODEL_NAMES) -> None:
    p.add_argument("--model", choices=choices, required=True)
    p.add_argument("--weights", required=weights_required,
                   help="checkpoint (default: the shipped weights)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"),
                   help="input size (default: the checkpoint's)")


def image_size_arg(p: argparse.ArgumentParser,
                   help: str = "size the test images are rendered and scored at (default: the camera's)") -> None:
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=list(CAMERA_SIZE), help=help)


def drive_args(p: argparse.ArgumentParser) -> None:
    """The generated drive a subcommand measures on (rendered once into --sr-cache)."""
    p.add_argument("--drive-seed", type=int, default=7, help="the generated drive (the camera's default)")
    p.add_argument("--drive-frames", type=int, default=300, help="consecutive camera frames (30 fps)")
    p.add_argument("--sr-cache", type=Path, default=DEFAULT_SR_CACHE, help="where rendered drives are kept")


def add_training_args(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--data", choices=("generated", "cityscapes"), default="generated")
    p.add_argument("--cityscapes-root", help="Cityscapes root (leftImg8bit/, gtFine/)")
    image_size_arg(p, "size the generated scenes are rendered at before their resize to --size "
                      "(default: the camera's)")
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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_optimisation_args(p: argparse.ArgumentParser, steps: int, lr: float, weight_decay: float) -> None:
    p.add_argument("--steps", type=positive_int, default=steps)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=lr, help="peak learning rate (OneCycle)")
    p.add_argument("--warmup", type=float, default=0.05,
                   help="fraction of steps warming up (none when that is under 2 steps)")
    p.add_argument("--weight-decay", type=float, default=weight_decay)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=500, help="validate every K steps (0: never)")
    p.add_argument("--eval-count", type=int, default=64, help="validation images")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--fp16", action="store_true", help="store the final weights as float16")
    p.add_argument("--out", required=True)
