"""Live demo: edge and cloud nodes as separate processes over Fast DDS, segmenting a generated drive.

Leaves in --out: summary.json (frames, latency per stage, bandwidth, live mIoU), strip.png
(overlay | predicted mask | ground truth for a few frames), overlay.mp4 and nodes.log.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor

from seg_core.classes import colorize

from .observer import PipelineObserver
from .graph import DEFAULT_PROFILE
from .runner import Graph, Host, default_params_file, parse_overrides, profile_file


def segmentation_model(overrides: dict[str, dict[str, str]], node: str = "segmentation",
                       group: str = "cloud", profile: str = DEFAULT_PROFILE) -> dict:
    """Which model a segmentation node (the cloud's by default) will run and whether it has trained
    weights; with super_resolution, the SR model and its weights too."""
    from seg_core.models import default_weights
    params = yaml.safe_load(default_params_file(group).read_text())[node]["ros__parameters"]
    overlay = profile_file(group, profile)
    if overlay is not None:
        params.update(yaml.safe_load(overlay.read_text()).get(node, {}).get("ros__parameters", {}))
    params.update(overrides.get(node, {}))
    weights = params.get("weights") or default_weights(params["model"])
    size = (int(params["input_width"]), int(params["input_height"]))
    model = {"model": params["model"], "weights": str(weights) if weights else None,
             "untrained": not weights, "backend": params["backend"], "threads": int(params["threads"]),
             "input_size": list(size) if size[0] > 0 else None}
    if params.get("super_resolution"):
        sr_weights = params.get("sr_weights") or default_weights(params["super_resolution"])
        model.update(super_resolution=params["super_resolution"], sr_weights=str(sr_weights) if sr_weights else None,
                     lr_reuse=str(params.get("lr_reuse")).lower() == "true")
    return model


def write_strip(observer: PipelineObserver, path: Path, rows: int = 4) -> int:
    """Rows of overlay | predicted mask | ground-truth mask for frames spread over the run."""
    import cv2
    frames = [(s, o) for s, o in observer.overlays if observer.truth_for(s) is not None]
    if not frames:
        return 0
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, min(rows, len(frames))).astype(int)]
    strip = []
    for stamp, over in picks:
        labels = observer.predicted_for(stamp)
        truth = observer.truth_for(stamp)
        pred = colorize(labels) if labels is not None else np.zeros_like(over)
        tiles = [over.copy(), pred, colorize(truth)]
        for tile, title in zip(tiles, ("overlay", "predicted labels", "ground truth")):
            cv2.putText(tile, title, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        strip.append(np.concatenate(tiles, axis=1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(strip, axis=0), cv2.COLOR_RGB2BGR))
    return len(picks)


def write_video(frames: list[np.ndarray], path: Path, fps: float) -> int:
    import av
    if not frames:
        return 0
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return len(frames)


def run_demo(duration: float, out: Path, overrides: dict[str, dict[str, str]], startup_timeout: float,
             log=print, nodes: list[str] | None = None, outputs: str = "/segmentation",
             hosts: dict[str, Host] | None = None, watch_overlay: bool = True, model: dict | None = None,
             profile: str = DEFAULT_PROFILE) -> dict:
    """Run the edge and cloud groups (or only `nodes` of them) with parameter `profile` and watch
    `outputs`/labels (and `outputs`/overlay for the strip and video unless watch_overlay is
    False). `model` describes the model behind `outputs` (segmentation_model(); default: the
    cloud's)."""
    out.mkdir(parents=True, exist_ok=True)
    model = model or segmentation_model(overrides, profile=profile)
    if model["untrained"]:
        log(f"WARNING: {model['model']} has NO TRAINED WEIGHTS; the masks below are noise.")
    rclpy.init()
    observer = PipelineObserver(outputs, keep_overlays=300 if watch_overlay else 0)
    executor = SingleThreadedExecutor()
    executor.add_node(observer)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    with open(out / "nodes.log", "w") as node_log, Graph(["edge", "cloud"], overrides, output=node_log,
                                                             hosts=hosts, profile=profile) as graph:
        for name in nodes or [None]:
            graph.start(name)
        log(f"demo: started {', '.join(graph.processes)}; waiting for the first labels "
            f"(node output: {out / 'nodes.log'})")
        deadline = time.monotonic() + startup_timeout
        while not observer.label_arrivals:
            if graph.exited() or time.monotonic() > deadline:
                raise RuntimeError(f"no labels within {startup_timeout:.0f} s; exited nodes: {graph.exited()}; "
                                   f"see {out / 'nodes.log'}")
            time.sleep(0.2)
        observer.reset()
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < duration:
            time.sleep(1.0)
            log(f"demo: {elapsed:5.1f}/{duration:.0f} s  frames out {len(observer.label_arrivals):4d}  "
                f"live mIoU {observer.confusion.miou() if observer.scored else float('nan'):.3f}")
        summary = observer.summarize(time.monotonic() - start)
    executor.shutdown()
    observer.destroy_node()
    rclpy.shutdown()
    summary["model"] = model
    summary["profile"] = profile
    overlays = [o for _, o in observer.overlays]
    summary["files"] = {
        "strip_png": str(out / "strip.png") if write_strip(observer, out / "strip.png") else None,
        "overlay_mp4": str(out / "overlay.mp4") if write_video(overlays, out / "overlay.mp4",
                                                               summary["output_fps"]) else None,
        "nodes_log": str(out / "nodes.log"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


# Edge and cloud share this machine in the demo: one torch thread for the cloud model (ENet has one
# by default), so the two models do not oversubscribe the cores (measured on 2 cores: 8 cloud
# results/s with one thread, under 1/s with gaps of 2.7 s with two). --set overrides it.
DEMO_DEFAULTS = ["segmentation.threads=1"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured after the first labels")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="parameter profile, e.g. cloudseg (low-resolution stream, super-resolution in the cloud)")
    args = parser.parse_args(argv)
    summary = run_demo(args.duration, args.out, parse_overrides(DEMO_DEFAULTS + args.set), args.startup_timeout,
                       profile=args.profile)
    print(json.dumps(summary, indent=2))
    if summary["model"]["untrained"]:
        print("WARNING: the model ran with UNTRAINED weights; masks are noise.", file=sys.stderr)
    return 0 if summary["frames_out"] else 1


if __name__ == "__main__":
    sys.exit(main())
