"""`ship` and `table`: shipped weights, their manifest, and the models table in docs/models.md."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from seg_core.data.classes import CITYSCAPES_CLASSES, NUM_CLASSES
from seg_core.models import (
    DEFAULT_INPUT_SIZE, MANIFEST_PATH, MODEL_NAMES, SR_MODEL_NAMES, WEIGHTS_DIR, build_model, default_weights,
    load_sr_model, load_weights, save_checkpoint,
)
from seg_core.models.inference import Segmenter
from seg_core.models.onnx_export import export_onnx, ort_session, quantize_int8
from seg_core.training import cloudseg
from seg_core.training.arguments import image_size_arg, model_args
from seg_core.training.cost import count_flops, count_parameters, file_sha256, gzip_size, latency_and_load
from seg_core.training.evaluation import (
    at_input_size, calibration_batches, evaluate, evaluate_at_input_size, generated_scenes, load_model,
    metrics_summary, model_size, onnx_predictor, test_images, torch_predictor,
)

log = logging.getLogger(__name__)

BENCH_THREADS = 2


def read_manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.is_file() else {}


def file_entry(path: Path, **fields) -> dict:
    return {**fields, "sha256": file_sha256(path), "size_bytes": path.stat().st_size}


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
    test = generated_scenes(tuple(args.image_size), args.count, "test", args.cache_dir)
    cm = evaluate_at_input_size(shipped, size, test, desc="test")
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
    lr_data = " --lr-data clean" if bitrate is None else f" --bitrate {bitrate}"
    manifest = read_manifest()
    manifest[dest.name] = file_entry(
        dest, model=args.model, command=meta.get("command"), data=meta.get("data"), lr_data=meta.get("lr_data"),
        channels=meta.get("channels"), segmenter=meta.get("segmenter"), dtype="float16",
        metrics={"test": rows, "count": args.count, "image_size": list(args.image_size),
                 "segmenter": "icnet" if segmenter else None,
                 "eval_command": f"python -m seg_core.train eval-sr --model {args.model}{variant}{lr_data} "
                                 f"{'--segmenter icnet ' if segmenter else ''}--count {args.count}"},
    )
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {dest} ({dest.stat().st_size / 1e3:.0f} kB): " + "; ".join(
        f"{r['method']} PSNR {r['psnr']:.2f} dB" for r in rows))


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
            if pruned_meta.get("pruned_from") == file_sha256(path):
                variants.append((f"torch fp32 pruned {pruned_meta['sparsity']:.0%}", pruned,
                                 torch_predictor(pruned), pruned_path))
            else:
                log.warning("%s was not pruned from the shipped %s; prune again to list it",
                            pruned_path, path.name)
        for variant, net, predict, file in variants:
            cm = evaluate(at_input_size(predict, size), data, args.count, desc=f"{name} {variant}")
            latency, load = latency_and_load(lambda: predict(x), runs=args.runs)
            rows.append({
                "model": name, "variant": variant, "input_size": list(size),
                "params": count_parameters(net),
                "nonzero_params": sum(int(p.count_nonzero()) for p in net.parameters()),
                "gflops": round(flops / 1e9, 3), "file": file.name,
                "size_mb": round(file.stat().st_size / 1e6, 2),
                "gzip_mb": round(gzip_size(file) / 1e6, 2),
                "latency_ms": round(latency, 2), "fps": round(1000.0 / latency, 1),
                "load_average": round(load, 2),
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
        "| class | " + " | ".join(f"{r['model']} ({r['input_size'][0]} x {r['input_size'][1]})"
                                  for r in shipped) + " |",
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the CLI."""
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
