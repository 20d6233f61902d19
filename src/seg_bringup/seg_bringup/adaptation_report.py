"""The edge's link adaptation, measured: a cap schedule on the uplink, second by second.

    python -m seg_bringup.adaptation_report [--out docs] [--scenario FILE] [--set NODE.PARAM=VALUE ...]

Runs the demo's two hosts (seg_bringup.demo: edge and cloud each in a DDS domain and on CPU cores of
their own, Zenoh across a user-space link) with the link adaptation, through
config/adaptation_scenario.yaml (uncapped -> 600 kbit/s for 60 s -> 200 kbit/s -> below the lowest
rung -> uncapped), a 640x480 camera at 30 fps on the generated drive (the ladder's setting). Writes
adaptation.json (per second: the cap, kbit/s sent, rung, frames by source, live mIoU; per phase;
the goals), adaptation.md and adaptation.png into --out, with the frame selector's figures from
frame_selector.json beside them (`python -m seg_core.train selector`). The run's own pictures,
video and node log go to --run-dir.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np

from .demo import DEMO_DEFAULTS, run_scenario, scenario_and_overrides, shipped_scenario

# The ladder's camera: 640x480 at 30 fps. The arbiter makes no overlay, which would cost the edge's
# one core more than the rest of its work together.
ADAPTATION_DEFAULTS = DEMO_DEFAULTS + ["camera.width=640", "camera.height=480", "camera.rate=30",
                                       "segmentation_arbiter.publish_overlay=false"]
SETTLE_S = 2          # seconds after a cap change left out of the phase's figures
COMMAND = "python -m seg_bringup.adaptation_report"


def _changes(values: list) -> int:
    return sum(a != b for a, b in zip(values, values[1:]))


def phase_rows(rows: list[dict], scenario: list[dict]) -> list[dict]:
    """Per phase, after its first SETTLE_S seconds: kbit/s sent, rungs, frames by source, mIoU,
    rung changes and the longest silence of /segmentation/labels."""
    out = []
    for phase in scenario:
        start = int(round(phase["start_s"]))
        inside = [r for r in rows if start + SETTLE_S <= r["t"] < start + int(phase["seconds"])]
        mious = [r["miou"] for r in inside if r["miou"] is not None]
        frames = {k: sum(r[k] for r in inside) for k in ("cloud", "reused", "edge")}
        rungs = [r.get("rung") for r in inside]
        out.append({"name": phase["name"], "link": phase["link"], "seconds_judged": len(inside),
                    "sent_kbps_mean": round(float(np.mean([r["sent_kbps"] for r in inside])), 1) if inside else None,
                    "sent_kbps_max": max((r["sent_kbps"] for r in inside), default=None),
                    "rungs": sorted(set(filter(None, rungs))), "rung_changes": _changes(rungs),
                    "use_edge_seconds": sum(bool(r.get("use_edge")) for r in inside),
                    "frames": frames, "miou": round(float(np.mean(mious)), 4) if mious else None,
                    "longest_silence_s": phase["longest_silence_s"]})
    return out


def goals(phases: list[dict], selector: dict | None) -> list[dict]:
    by_name = {p["name"]: p for p in phases}
    uncapped, capped = by_name.get("uncapped"), by_name.get("600 kbit/s")
    out = []
    if uncapped and capped and uncapped["miou"] is not None and capped["miou"] is not None:
        cost = round(100 * (uncapped["miou"] - capped["miou"]), 2)
        out.append({"goal": "under a 600 kbit/s cap the cloud keeps serving, live mIoU within 3 points of uncapped",
                    "measured": f"{capped['frames']['cloud'] + capped['frames']['reused']} cloud frames, "
                                f"{capped['frames']['edge']} ENet; mIoU {capped['miou']:.3f} vs {uncapped['miou']:.3f} "
                                f"({cost:+.2f} points)",
                    "met": cost <= 3.0 and capped["frames"]["edge"] <= 0.05 * sum(capped["frames"].values())})
    if capped:
        out.append({"goal": "0 rung oscillations in 60 s at a steady cap",
                    "measured": f"{capped['rung_changes']} rung changes in {capped['seconds_judged']} s at 600 kbit/s",
                    "met": capped["rung_changes"] == 0 and capped["seconds_judged"] >= 55})
    silence = max(p["longest_silence_s"] for p in phases)
    out.append({"goal": "/segmentation/labels never silent > 200 ms", "measured": f"longest {silence * 1000:.0f} ms",
                "met": silence <= 0.2})
    if selector:
        chosen = next(s for s in selector["settings"]
                      if all(s[k] == v for k, v in selector["chosen"].items()))
        out.append({"goal": "the frame selector cuts bandwidth >= 30 % at <= 1 mIoU point (generated drive)",
                    "measured": f"{chosen['saving_pct']:.1f} % less at {chosen['miou_cost_points']:.2f} points",
                    "met": chosen["saving_pct"] >= 30 and chosen["miou_cost_points"] <= 1})
    return out


def plot(rows: list[dict], path: Path) -> None:
    """Cap and kbit/s sent, rung, share of frames by source and live mIoU over time (CloudSeg Fig. 4)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = np.array([r["t"] for r in rows])
    fig, axes = plt.subplots(4, 1, figsize=(11, 8), sharex=True)
    caps = [np.nan if r["link"] in ("up", None) else float(r["link"]) for r in rows]
    axes[0].step(t, caps, where="post", c="tab:red", label="uplink cap")
    axes[0].step(t, [r["sent_kbps"] for r in rows], where="post", c="tab:green", label="H.264 sent")
    axes[0].set_ylabel("kbit/s")
    axes[0].legend(loc="upper right")
    axes[1].step(t, [r.get("rung", "") or "" for r in rows], where="post", c="tab:blue")
    axes[1].set_ylabel("rung")
    total = np.array([max(1, r["cloud"] + r["reused"] + r["edge"]) for r in rows])
    bottom = np.zeros(len(rows))
    for key, colour in (("cloud", "tab:blue"), ("reused", "tab:cyan"), ("edge", "tab:orange")):
        share = np.array([r[key] for r in rows]) / total
        axes[2].bar(t, share, bottom=bottom, width=1.0, align="edge", color=colour, label=key)
        bottom += share
    axes[2].set_ylabel("frames by source")
    axes[2].legend(loc="lower right", fontsize=8)
    axes[3].plot(t, [np.nan if r["miou"] is None else r["miou"] for r in rows], c="tab:purple")
    axes[3].set_ylabel("live mIoU (1 s)")
    axes[3].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def markdown(report: dict) -> str:
    lines = [f"# Link adaptation, measured ({report['date']})", "",
             f"`{report['command']}` on {report['machine']}. {report['setup']}", "",
             "![cap, rung, source and mIoU over time](adaptation.png)", "",
             "| phase | cap | kbit/s sent (mean / max) | rungs | frames cloud / reused / ENet | mIoU | "
             "rung changes | longest silence |", "|---|---|---|---|---|---|---|---|"]
    for p in report["phases"]:
        f = p["frames"]
        lines.append(f"| {p['name']} | {p['link']} | {p['sent_kbps_mean']} / {p['sent_kbps_max']} | "
                     f"{', '.join(p['rungs']) or '-'} | {f['cloud']} / {f['reused']} / {f['edge']} | {p['miou']} | "
                     f"{p['rung_changes']} | {p['longest_silence_s'] * 1000:.0f} ms |")
    lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else 'NO'} |" for g in report["goals"]]
    lines += ["", "Per second (cap, kbit/s sent, rung, frames by source, live mIoU): adaptation.json."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, default=Path("out/adaptation_run"))
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    args = parser.parse_args(argv)
    phases, overrides = scenario_and_overrides(parser, args.scenario or shipped_scenario("adaptation_scenario"),
                                               ADAPTATION_DEFAULTS + args.set)
    base = int(os.environ.get("ROS_DOMAIN_ID", "0"))
    try:
        summary = run_scenario(phases, args.run_dir, overrides, (base, base + 1), adapt=True)
    except RuntimeError as exc:
        print(f"adaptation_report: {exc}", file=sys.stderr)
        return 1
    selector_file = args.out / "frame_selector.json"
    selector = json.loads(selector_file.read_text()) if selector_file.is_file() else None
    report = {"command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
              "date": date.today().isoformat(), "machine": f"{os.cpu_count()} CPU cores",
              "setup": "Camera 640x480 at 30 fps on the generated drive; cloud DeepLabV3-MobileNetV3 at 384x192 on "
                       "one core, ENet (hot standby) and the rest of the edge on the other; uplink caps by a token "
                       "bucket (16 kbit burst) in the link between the Zenoh bridges; frame selection on; each "
                       f"phase judged after its first {SETTLE_S} s.",
              "per_second": summary["per_second"], "phases": phase_rows(summary["per_second"], summary["scenario"]),
              "frame_selector": selector and {k: selector[k] for k in ("every_frame", "chosen", "command")}}
    report["goals"] = goals(report["phases"], selector)
    plot(report["per_second"], args.out / "adaptation.png")
    (args.out / "adaptation.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "adaptation.md").write_text(markdown(report))
    for goal in report["goals"]:
        print(f"adaptation_report: {'met' if goal['met'] else 'NOT MET'}: {goal['goal']}: {goal['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
