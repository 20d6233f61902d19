"""Live demo: the product's story on one machine, as pictures.

The edge (camera on a generated drive, H.264 encoder, ENet, arbiter, link monitor, Zenoh bridge)
and the cloud (Zenoh bridge, decoder, segmentation, probe responder) run as two hosts would: each
side in a DDS domain of its own and on CPU cores of its own, the WAN between their Zenoh bridges a
user-space link (seg_bringup.link_shaper) that a scenario cuts, caps and restores
(config/demo_scenario.yaml: phases of so many seconds, the link up, cut or its uplink capped in
kbit/s). With --adapt the edge's link adaptation runs too and follows the caps.

Leaves in --out: timeline.png (per frame: source, latency, kbit/s sent, live mIoU, the phases
marked), strip.png (frames of each phase: overlay | labels | ground truth, captioned),
overlay.mp4 (every output frame, its source burned in), summary.json and nodes.log.

    python -m seg_bringup.demo [--scenario FILE] [--out DIR] [--set NODE.PARAM=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
import yaml
from ament_index_python.packages import get_package_share_directory
from rclpy.executors import SingleThreadedExecutor

from seg_core.data.classes import colorize

from .graph import DEFAULT_PROFILE
from .link_shaper import LinkShaper
from .observer import STAGES, Frame, PipelineObserver
from .runner import Graph, Host, default_params_file, parse_overrides, profile_file
from .shared_memory import remove_leftovers


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


# ---------------------------------------------------------------------------------------- scenario

@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    link: str | float    # "up", "cut", or a cap on the uplink (edge -> cloud) in kbit/s


def load_scenario(path: Path) -> list[Phase]:
    """The phases of a scenario file; ValueError naming what is wrong."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read scenario {path}: {exc}") from None
    phases = []
    for k, item in enumerate((doc or {}).get("phases") or []):
        where = f"scenario {path}, phase {k + 1}"
        if not isinstance(item, dict) or set(item) - {"name", "seconds", "link"}:
            raise ValueError(f"{where}: expected name, seconds and link, got {item!r}")
        seconds, link = item.get("seconds"), item.get("link", "up")
        if not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ValueError(f"{where}: seconds must be > 0, got {seconds!r}")
        if link not in ("up", "cut") and not (isinstance(link, (int, float)) and link > 0):
            raise ValueError(f"{where}: link must be up, cut or a cap in kbit/s > 0, got {link!r}")
        phases.append(Phase(str(item.get("name") or f"phase {k + 1}"), float(seconds), link))
    if not phases:
        raise ValueError(f"scenario {path} has no phases")
    return phases


def apply(link: LinkShaper, phase: Phase) -> None:
    if phase.link == "cut":
        link.cut()
        return
    link.restore()
    link.cap(None if phase.link == "up" else float(phase.link), ("up",))


# ---------------------------------------------------------------------------------------- figures

def gaps(times: list[int], start: int, end: int) -> float:
    """Longest interval (s) without an arrival in [start, end] (ns)."""
    points = [start] + [t for t in times if start <= t <= end] + [end]
    return max(b - a for a, b in zip(points, points[1:])) / 1e9


def scenario_figures(frames: list[Frame], marks: list[tuple[Phase, int, int]]) -> list[dict]:
    """Per phase: frames by source, longest silence, and after a cut: when ENet took over and when
    the cloud was the active source again (s)."""
    arrivals = sorted(f.arrival for f in frames)
    out = []
    for k, (phase, start, end) in enumerate(marks):
        inside = [f for f in frames if start <= f.arrival < end]
        row = {"name": phase.name, "link": phase.link, "start_s": round((start - marks[0][1]) / 1e9, 2),
               "seconds": round((end - start) / 1e9, 2),
               "frames_by_source": {s: sum(f.source == s for f in inside) for s in ("cloud", "edge")},
               "longest_silence_s": round(gaps(arrivals, start, end), 3)}
        if phase.link == "cut":
            edge = [f.arrival for f in frames if f.arrival >= start and f.active == "edge"]
            row["edge_active_after_s"] = round((edge[0] - start) / 1e9, 2) if edge else None
        if k and marks[k - 1][0].link == "cut":
            back = [f.arrival for f in frames if f.arrival >= start and f.active == "cloud"]
            row["handback_s"] = round((back[0] - start) / 1e9, 2) if back else None
        out.append(row)
    return out


def per_second(frames: list[Frame], sent: list[tuple[int, int]], adaptation: list, marks) -> list[dict]:
    """Second by second from the first phase's start: the link, kbit/s of H.264 sent (by camera
    stamp), frames by source (cloud's own, cloud reused, edge), their mIoU, and the link
    adaptation's rung at the end of the second (with adaptation)."""
    from seg_core.training.metrics import ConfusionMatrix
    t0, end = marks[0][1], marks[-1][2]
    rows = []
    for k in range(int((end - t0) // 1_000_000_000)):
        a, b = t0 + k * 1_000_000_000, t0 + (k + 1) * 1_000_000_000
        inside = [f for f in frames if a <= f.arrival < b]
        cm = ConfusionMatrix()
        confusions = [f.confusion for f in inside if f.confusion is not None]
        if confusions:
            cm.matrix = np.sum(confusions, axis=0)
        states = [s for t, s in adaptation if t < b]
        row = {"t": k, "link": next((p.link for p, s, e in marks if s <= a < e), None),
               "sent_kbps": round(sum(8 * n / 1000 for s, n in sent if a <= s < b), 1),
               "cloud": sum(f.source == "cloud" and not f.reused for f in inside),
               "reused": sum(f.reused for f in inside), "edge": sum(f.source == "edge" for f in inside),
               "miou": round(float(cm.miou()), 4) if confusions else None}
        if states:
            row.update(rung=states[-1].rung, use_edge=states[-1].use_edge)
        rows.append(row)
    return rows


def rolling_miou(frames: list[Frame], window_ns: int = 1_000_000_000) -> list[float | None]:
    """Live mIoU over the frames of the last `window_ns` before each frame."""
    from seg_core.training.metrics import ConfusionMatrix
    out, cm = [], ConfusionMatrix()
    for k, f in enumerate(frames):
        recent = [g.confusion for g in frames[:k + 1] if g.confusion is not None
                  and g.arrival > f.arrival - window_ns]
        if not recent:
            out.append(None)
            continue
        cm.matrix = np.sum(recent, axis=0)
        out.append(float(cm.miou()))
    return out


def write_timeline(frames: list[Frame], sent: list[tuple[int, int]], marks, t0: int, path: Path) -> None:
    """Source, latency, kbit/s sent (1 s bins of (stamp, bytes)) and live mIoU over time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"cloud": "tab:blue", "edge": "tab:orange"}
    t = np.array([(f.arrival - t0) / 1e9 for f in frames])
    fig, axes = plt.subplots(4, 1, figsize=(11, 8), sharex=True, height_ratios=[0.6, 1, 1, 1])
    for source, colour in colours.items():
        pick = [k for k, f in enumerate(frames) if f.source == source]
        axes[0].scatter(t[pick], [1 if source == "cloud" else 0] * len(pick), s=6, c=colour, label=source)
        axes[1].scatter(t[pick], [(frames[k].arrival - frames[k].stamp) / 1e6 for k in pick], s=6, c=colour)
    axes[0].set_yticks([0, 1], ["edge (ENet)", "cloud"])
    axes[0].set_ylim(-0.5, 1.5)
    axes[0].set_title("where each frame's labels came from")
    axes[1].set_ylabel("camera → labels (ms)")
    if sent:
        seconds = np.array([(s - t0) / 1e9 for s, _ in sent])
        edges = np.arange(np.floor(seconds.min()), np.ceil(seconds.max()) + 1)
        kbit, _ = np.histogram(seconds, edges, weights=[8 * b / 1000 for _, b in sent])
        axes[2].step(edges[:-1], kbit, where="post", c="tab:green")
    axes[2].set_ylabel("H.264 sent (kbit/s)")
    miou = rolling_miou(frames)
    axes[3].plot(t, [np.nan if m is None else m for m in miou], c="tab:purple")
    axes[3].set_ylabel("live mIoU (1 s)")
    axes[3].set_ylim(0, 1)
    axes[3].set_xlabel("seconds")
    for phase, start, end in marks:
        if phase.link != "up":
            for ax in axes:
                ax.axvspan((start - t0) / 1e9, (end - t0) / 1e9, color="tab:red" if phase.link == "cut"
                           else "gold", alpha=0.15)
        axes[0].text(((start + end) / 2 - t0) / 1e9, 1.35, phase.name, ha="center", va="top", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _decode(png_or_jpg: bytes) -> np.ndarray:
    import cv2
    return cv2.imdecode(np.frombuffer(png_or_jpg, np.uint8), cv2.IMREAD_UNCHANGED)


def _picture(frame: Frame) -> np.ndarray:
    """The frame's overlay (rgb), or its coloured labels where no overlay arrived."""
    import cv2
    if frame.overlay_jpg:
        return cv2.cvtColor(_decode(frame.overlay_jpg), cv2.COLOR_BGR2RGB)
    return colorize(_decode(frame.labels_png))


def caption(frame: Frame) -> str:
    latency = (frame.arrival - frame.stamp) / 1e6
    return f"{frame.source or '?'} - {frame.model or '?'} - {latency:.0f} ms"


def _banner(tile: np.ndarray, text: str, colour=(255, 255, 255)) -> np.ndarray:
    import cv2
    band = np.zeros((28, tile.shape[1], 3), np.uint8)
    width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)[0][0]
    scale = min(0.55, 0.55 * (tile.shape[1] - 12) / max(1, width))   # shrink a long caption to fit
    cv2.putText(band, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return np.concatenate([band, tile], axis=0)


TIMING_TIMEOUT_S = 15.0   # after the cloud serves, for every stage's timing to reach the observer
SOURCE_COLOURS = {"cloud": (80, 160, 255), "edge": (255, 160, 40)}


def write_strip(frames: list[Frame], path: Path, picks: list[Frame] | None = None, rows: int = 4,
                phase_of=None) -> int:
    """Rows of overlay | predicted labels | ground truth, each captioned with source, model, latency
    (`picks`, or `rows` frames spread over the run)."""
    import cv2
    usable = [f for f in frames if f.labels_png and f.truth_png]
    if picks is None:
        picks = [usable[i] for i in np.linspace(0, len(usable) - 1, min(rows, len(usable))).astype(int)] \
            if usable else []
    if not picks:
        return 0
    strip = []
    for f in picks:
        where = f"  [{phase_of(f)}]" if phase_of else ""
        tiles = [_banner(_picture(f), caption(f) + where, SOURCE_COLOURS.get(f.source, (255, 255, 255))),
                 _banner(colorize(_decode(f.labels_png)), "predicted labels"),
                 _banner(colorize(_decode(f.truth_png)), "ground truth")]
        strip.append(np.concatenate(tiles, axis=1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(strip, axis=0), cv2.COLOR_RGB2BGR))
    return len(picks)


def phase_picks(frames: list[Frame], marks) -> list[Frame]:
    """A frame from the middle of each phase, served by the source active then."""
    picks = []
    for _, start, end in marks:
        inside = [f for f in frames if start <= f.arrival < end and f.labels_png and f.truth_png]
        served = [f for f in inside if f.source == f.active] or inside
        if served:
            picks.append(served[len(served) // 2])
    return picks


def write_video(frames: list[Frame], path: Path, fps: float, phase_of=None) -> int:
    """One video frame per output frame, its source (and phase) burned in."""
    import av
    import cv2
    if not frames:
        return 0
    first = _picture(frames[0])
    h, w = first.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for f in frames:
            rgb = np.ascontiguousarray(_picture(f))
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_NEAREST)
            label = f"{(f.source or '?').upper()} ({f.model or '?'})" + (f"  {phase_of(f)}" if phase_of else "")
            cv2.rectangle(rgb, (0, 0), (w, 30), (0, 0, 0), -1)
            cv2.putText(rgb, label, (8, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        SOURCE_COLOURS.get(f.source, (255, 255, 255)), 2, cv2.LINE_AA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return len(frames)


# ---------------------------------------------------------------------------------------- running

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Observing:
    """An observer (and extra timing nodes) spinning in their own rclpy contexts, one per domain."""

    def __init__(self, domains: list[int], keep_images: bool = True, outputs: str = "/segmentation"):
        self.contexts, self.executors = [], []
        self.observer = None
        for domain in domains:
            context = rclpy.Context()
            rclpy.init(context=context, domain_id=domain)
            executor = SingleThreadedExecutor(context=context)
            if self.observer is None:
                node = self.observer = PipelineObserver(outputs, keep_images=keep_images, context=context)
            else:
                node = rclpy.create_node(f"timing_observer_{domain}", context=context)
                self.observer.watch_timing(node)
            executor.add_node(node)
            threading.Thread(target=executor.spin, daemon=True).start()
            self.contexts.append(context)
            self.executors.append(executor)

    def close(self) -> None:
        for executor, context in zip(self.executors, self.contexts):
            for node in executor.get_nodes():
                executor.remove_node(node)
                node.destroy_node()
            executor.shutdown()
            rclpy.try_shutdown(context=context)


def wait_until(predicate, graph: Graph, timeout: float, what: str, log_file: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if graph.exited() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s; exited nodes: {graph.exited()}; see {log_file}")
        time.sleep(0.2)


def run_demo(duration: float, out: Path, overrides: dict[str, dict[str, str]], startup_timeout: float,
             log=print, nodes: list[str] | None = None, outputs: str = "/segmentation",
             hosts: dict[str, Host] | None = None, watch_overlay: bool = True, model: dict | None = None,
             profile: str = DEFAULT_PROFILE) -> dict:
    """Run the edge and cloud groups (or only `nodes` of them) with parameter `profile` in one DDS domain and watch
    `outputs`/labels for `duration` s after the first ones (and the overlay for the strip and the
    video unless watch_overlay is False). `model` describes the model behind `outputs`
    (segmentation_model(); default: the cloud's). Used by benchmarks/bench_pipeline.py."""
    out.mkdir(parents=True, exist_ok=True)
    model = model or segmentation_model(overrides, profile=profile)
    watching = Observing([int(os.environ.get("ROS_DOMAIN_ID", "0"))], watch_overlay, outputs)
    observer = watching.observer
    log_file = out / "nodes.log"
    try:
        with open(log_file, "w") as node_log, Graph(["edge", "cloud"], overrides, output=node_log,
                                                    hosts=hosts, profile=profile) as graph:
            for name in nodes or [None]:
                graph.start(name)
            log(f"demo: started {', '.join(graph.processes)}; waiting for the first labels ({log_file})")
            wait_until(lambda: observer.outputs(), graph, startup_timeout, "no labels", log_file)
            observer.reset()
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < duration:
                time.sleep(1.0)
                log(f"demo: {elapsed:5.1f}/{duration:.0f} s  frames out {len(observer.outputs()):4d}")
            frames = observer.outputs()
            summary = observer.summarize(time.monotonic() - start, frames)
    finally:
        watching.close()
    summary["model"] = model
    summary["profile"] = profile
    summary["files"] = {
        "strip_png": str(out / "strip.png") if write_strip(frames, out / "strip.png") else None,
        "overlay_mp4": (str(out / "overlay.mp4") if watch_overlay and
                        write_video(frames, out / "overlay.mp4", summary["output_fps"]) else None),
        "nodes_log": str(log_file),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def split_hosts(domains: tuple[int, int], split_cores: bool) -> dict[str, Host]:
    """The edge and cloud groups (with their bridges, and the edge's adaptation) as two hosts: a DDS
    domain each and, with split_cores and at least two CPUs, the last CPU for the cloud and the
    others for the edge."""
    cpus = sorted(os.sched_getaffinity(0))
    pin = split_cores and len(cpus) >= 2
    edge_cpu, cloud_cpu = ",".join(map(str, cpus[:-1])), str(cpus[-1])
    hosts = {}
    for side, domain, cpu in (("edge", domains[0], edge_cpu), ("cloud", domains[1], cloud_cpu)):
        host = Host(["taskset", "-c", cpu] if pin else [], {"ROS_DOMAIN_ID": str(domain)})
        hosts[side] = hosts[f"{side}_bridge"] = host
    hosts["adaptation"] = hosts["edge"]
    return hosts


def wait_for_cloud(observer, graph, timeout: float, log_file: Path, log=print) -> None:
    """Wait until both models are loaded, the cloud is the arbiter's source and every stage's timing
    arrives; a cloud too slow to become the source, or a stage whose timing has not matched, is only
    warned about."""
    wait_until(lambda: observer.models_ready == {"cloud", "edge"}, graph, timeout,
               "the models did not load", log_file)
    try:
        wait_until(lambda: any(f.active == "cloud" for f in observer.outputs()), graph, timeout,
                   "the cloud did not become the source", log_file)
    except RuntimeError as exc:
        if graph.exited():
            raise
        log(f"demo: WARNING: {exc} (too slow for the arbiter's deadline on this machine?); "
            "playing the scenario anyway")
    # Bandwidth and per-stage latency come from each stage's timing: wait until every stage's has
    # matched the observer, or say which has not (its figures will be missing).
    try:
        wait_until(lambda: set(STAGES) <= observer.stages_timed(), graph, TIMING_TIMEOUT_S,
                   "no stage timing", log_file)
    except RuntimeError:
        if graph.exited():
            raise
        missing = ", ".join(sorted(set(STAGES) - observer.stages_timed()))
        log(f"demo: WARNING: no stage timing from {missing} within {TIMING_TIMEOUT_S:.0f} s; "
            "its bandwidth and latency figures will be missing")


def play(phases: list[Phase], link: LinkShaper, log=print) -> list[tuple[Phase, int, int]]:
    """Set the link as each phase says for its duration; returns (phase, start ns, end ns) marks."""
    marks = []
    for phase in phases:
        apply(link, phase)
        start = time.time_ns()
        log(f"demo: {phase.name} (link {link.state}) for {phase.seconds:g} s")
        while time.time_ns() < start + phase.seconds * 1e9:
            time.sleep(0.2)
        marks.append((phase, start, time.time_ns()))
    return marks


def run_scenario(phases: list[Phase], out: Path, overrides: dict[str, dict[str, str]],
                 domains: tuple[int, int], split_cores: bool = True, startup_timeout: float = 180.0,
                 log=print, profile: str = DEFAULT_PROFILE, adapt: bool = False) -> dict:
    """Start both sides (with parameter `profile`, and the link adaptation with `adapt`), wait until
    the cloud serves, play the phases, write the pictures."""
    out.mkdir(parents=True, exist_ok=True)
    for domain in domains:    # an earlier run killed in these domains may have left its ports behind
        remove_leftovers(domain)
    model = segmentation_model(overrides, profile=profile)
    if model["untrained"]:
        log(f"WARNING: {model['model']} has NO TRAINED WEIGHTS; the masks below are noise.")
    cloud_port = free_port()
    link = LinkShaper(("127.0.0.1", cloud_port))
    overrides = {**overrides,
                 "edge_bridge": {**overrides.get("edge_bridge", {}), "connect": f"['tcp/127.0.0.1:{link.port}']"},
                 "cloud_bridge": {**overrides.get("cloud_bridge", {}), "listen": f"['tcp/127.0.0.1:{cloud_port}']"}}
    watching = Observing(list(domains))
    observer = watching.observer
    log_file = out / "nodes.log"
    try:
        groups = ["edge", "edge_bridge", "cloud", "cloud_bridge"] + (["adaptation"] if adapt else [])
        with open(log_file, "w") as node_log, Graph(groups, overrides, output=node_log,
                                                    hosts=split_hosts(domains, split_cores), profile=profile) as graph:
            graph.start()
            log(f"demo: edge and cloud started (DDS domains {domains[0]} and {domains[1]}"
                f"{', CPU cores split' if split_cores else ''}); waiting until the cloud serves ({log_file})")
            wait_for_cloud(observer, graph, startup_timeout, log_file, log)
            observer.reset()
            marks = play(phases, link, log)
            frames = [f for f in observer.outputs() if f.arrival < marks[-1][2]]
            summary = observer.summarize((marks[-1][2] - marks[0][1]) / 1e9, frames)
    finally:
        watching.close()
        link.close()

    def phase_of(frame: Frame) -> str:
        return next((p.name for p, a, b in marks if a <= frame.arrival < b), "")

    with observer.lock:
        sent = [(s, t["h264_encoder"].output_bytes) for s, t in observer.timings.items() if "h264_encoder" in t]
        adaptation = list(observer.adaptation)
    write_timeline(frames, sent, marks, marks[0][1], out / "timeline.png")
    summary["model"] = model
    summary["profile"] = profile
    summary["scenario"] = scenario_figures(frames, marks)
    summary["per_second"] = per_second(frames, sent, adaptation, marks)
    summary["files"] = {
        "timeline_png": str(out / "timeline.png"),
        "strip_png": (str(out / "strip.png") if write_strip(frames, out / "strip.png", phase_picks(frames, marks),
                                                            phase_of=phase_of) else None),
        "overlay_mp4": (str(out / "overlay.mp4") if write_video(frames, out / "overlay.mp4", summary["output_fps"],
                                                                 phase_of) else None),
        "nodes_log": str(log_file),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def story(summary: dict) -> list[str]:
    """The run in a few lines a person reads."""
    by = summary["frames_by_source"]
    lines = [f"{summary['frames_out']} frames segmented in {summary['duration_s']:.0f} s "
             f"({summary['output_fps']:.1f} fps): {by.get('cloud', 0)} by the cloud ({summary['model']['model']}), "
             f"{by.get('edge', 0)} by ENet on the robot."]
    for row in summary["scenario"]:
        if row["link"] == "cut":
            lines.append(f"link cut for {row['seconds']:.0f} s: ENet active after {row['edge_active_after_s']} s, "
                         f"/segmentation/labels silent at most {row['longest_silence_s'] * 1000:.0f} ms.")
        elif row.get("handback_s") is not None:
            lines.append(f"{row['name']}: the cloud was the source again {row['handback_s']} s after the link "
                         "came back.")
        elif "handback_s" in row:
            lines.append(f"{row['name']}: the cloud did not become the source again within {row['seconds']:.0f} s "
                         "(too slow for the arbiter's deadline on this machine?).")
    e2e, miou = summary["end_to_end_latency"], summary["live_miou"]["miou"]
    h264 = (f"{summary['bytes']['h264_kbit_per_s']:.0f} kbit/s" if summary["frames_encoded"]
            else "kbit/s unknown (no timing from h264_encoder)")
    lines.append(f"camera -> labels median {e2e['median_ms']:.0f} ms; H.264 {h264} "
                 f"instead of {summary['bytes']['raw_mbit_per_s']:.0f} Mbit/s raw; live mIoU "
                 f"{'n/a' if miou is None else f'{miou:.2f}'}.")
    return lines


# Both models run on this machine's CPUs: one torch thread each, on the cores of their side. One
# core stands in for the cloud's GPU, so the cloud model runs at 320x240 (its trained 640x480 halved,
# the camera's aspect) and the camera at 8 fps: then the cloud keeps up and serves every frame while
# the link is up. A visible mask tint.
DEMO_DEFAULTS = ["segmentation.threads=1", "segmentation.input_width=320", "segmentation.input_height=240",
                 "camera.rate=8", "segmentation_arbiter.overlay_alpha=0.6"]


def shipped_scenario(name: str = "demo_scenario") -> Path:
    return Path(get_package_share_directory("seg_bringup")) / "config" / f"{name}.yaml"


def scenario_and_overrides(parser: argparse.ArgumentParser, scenario: Path, settings: list[str]):
    """The phases of `scenario` and the node overrides of `settings` (NODE.PARAM=VALUE); a bad one
    ends the program through `parser` with one line."""
    try:
        return load_scenario(scenario), parse_overrides(settings)
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, default=None, help="phases file (default: config/demo_scenario.yaml)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    parser.add_argument("--domains", type=int, nargs=2, metavar=("EDGE", "CLOUD"),
                        help="DDS domains of the two sides (default: ROS_DOMAIN_ID and the next one)")
    parser.add_argument("--shared-cores", action="store_true", help="do not pin each side to its own cores")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="parameter profile, e.g. cloudseg (low-resolution stream, super-resolution in the cloud)")
    args = parser.parse_args(argv)
    phases, overrides = scenario_and_overrides(parser, args.scenario or shipped_scenario(), DEMO_DEFAULTS + args.set)
    base = int(os.environ.get("ROS_DOMAIN_ID", "0"))
    domains = tuple(args.domains) if args.domains else (base, base + 1)
    try:
        summary = run_scenario(phases, args.out, overrides, domains, not args.shared_cores, args.startup_timeout,
                               profile=args.profile)
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:   # the nodes were stopped on the way out
        print("demo: interrupted", file=sys.stderr)
        return 130
    print()
    for line in story(summary):
        print(f"demo: {line}")
    print("demo: " + ", ".join(str(p) for p in summary["files"].values() if p) + f", {args.out / 'summary.json'}")
    return 0 if summary["frames_out"] else 1


if __name__ == "__main__":
    sys.exit(main())
