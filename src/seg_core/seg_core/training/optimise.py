"""`export-onnx`, `quantize` and `prune`: smaller and faster variants of a segmentation model."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from seg_core.data.classes import NUM_CLASSES
from seg_core.models import MODEL_NAMES, default_weights, save_checkpoint
from seg_core.models.onnx_export import export_onnx, max_abs_difference, quantize_int8
from seg_core.training.arguments import add_training_args, model_args
from seg_core.training.cost import file_sha256, gzip_size, state_dict_bytes
from seg_core.training.evaluation import calibration_batches, load_model, model_size
from seg_core.training.loop import seed_everything
from seg_core.training.segmentation import fit_segmentation, run_meta


def cmd_export(args) -> None:
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    out = export_onnx(model, args.out, size)
    diff = max_abs_difference(model, out, size)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), max |torch - onnxruntime| = {diff:.2e}")
    if diff > 1e-3:
        raise SystemExit(f"onnxruntime output differs from torch by {diff:.2e}")


def cmd_quantize(args) -> None:
    model, meta = load_model(args.model, args.weights)
    size = model_size(args, meta)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", size)
        out = quantize_int8(fp32, args.out, calibration_batches(size, args.calibration, args.cache_dir))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


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
                    sparsity=round(sparsity(model), 4), pruned_from=file_sha256(source))
    dense, _ = load_model(args.model, args.weights)
    dense_bytes = state_dict_bytes({
        k: v.half() if args.fp16 and v.is_floating_point() else v for k, v in dense.state_dict().items()
    })
    dense_gz, pruned_gz = gzip_size(dense_bytes), gzip_size(out)
    print(f"wrote {out}: conv weight sparsity {sparsity(model):.1%}\n"
          f"  dense  {len(dense_bytes) / 1e6:.2f} MB, gzip {dense_gz / 1e6:.2f} MB\n"
          f"  pruned {out.stat().st_size / 1e6:.2f} MB, gzip {pruned_gz / 1e6:.2f} MB "
          f"({pruned_gz / dense_gz - 1:+.0%} compressed size on disk)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the CLI."""
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
