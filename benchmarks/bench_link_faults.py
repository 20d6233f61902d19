"""Link-fault benchmark: what planners see on the edge host when the WAN link fails.

Runs the graph of test/ros/test_link_faults.py: edge (camera 320x240 @ 30 fps, H.264, link monitor,
ENet, arbiter, Zenoh bridge) and cloud (Zenoh bridge, decoder, DeepLabV3-MobileNetV3, probe
responder) in two network namespaces joined by a veth pair; only Zenoh crosses it. Needs root.

For each of `--cuts` link cuts (veth down for `--cut-s`, then up) and one cloud kill/restart it
measures the longest silence on /segmentation/labels from the fault until the repair, the time
from the repair until the arbiter's active source is the cloud again (handback) and until the
first cloud result arrives (the link's own recovery: TCP, Zenoh, keyframe), and the labels'
latency (camera stamp -> arrival) on the edge while the link is cut. Prints JSON.

    source scripts/env.sh
    python benchmarks/bench_link_faults.py [--cuts 5] [--cut-s 3] [--tcp-rto-max-ms 1000] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test" / "ros"))

from netns import HostPair  # noqa: E402
from test_link_faults import kill_cloud, restart_cloud, takeover_and_handback  # noqa: E402
from two_hosts import start_system, stop_system  # noqa: E402


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"max": round(ordered[-1], 3), "median": round(statistics.median(ordered), 3),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3), "n": len(ordered)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cuts", type=int, default=5)
    ap.add_argument("--cut-s", type=float, default=3.0, help="how long each cut lasts (s)")
    ap.add_argument("--settle-s", type=float, default=4.0, help="wait after each handback (s)")
    ap.add_argument("--tcp-rto-max-ms", type=int, default=1000,
                    help="net.ipv4.tcp_rto_max_ms in both hosts (src/seg_bridge/README.md); 0: kernel default")
    ap.add_argument("--out", type=Path, default=Path("out/bench_link_faults"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    hosts = HostPair(tcp_rto_max_ms=args.tcp_rto_max_ms or None).create()
    system = None
    try:
        print("starting edge and cloud hosts ...", file=sys.stderr)
        system = start_system(hosts)
        a, g = system["arrivals"], system["graph"]
        time.sleep(args.settle_s)
        cuts, latencies = [], []
        for i in range(args.cuts):
            t0 = time.time()
            result = takeover_and_handback(system, hosts.cut, hosts.restore, "DOWN", hold_s=args.cut_s)
            latencies += [e["t"] - e["stamp"] for e in a.of("labels", t0 + 1.0) if e["t"] <= t0 + args.cut_s]
            cuts.append(result)
            print(f"cut {i + 1}/{args.cuts}: {result}", file=sys.stderr)
            time.sleep(args.settle_s)
        killed = takeover_and_handback(system, lambda: kill_cloud(g), lambda: restart_cloud(g), "DOWN",
                                       hold_s=args.cut_s)
        print(f"cloud kill: {killed}", file=sys.stderr)
        report = {
            "setup": "edge and cloud network namespaces, veth, Zenoh; camera 320x240 @ 30 fps; "
                     "DeepLabV3-MobileNetV3 and ENet at 320x240, one thread each; 2 shared cores",
            "cut_s": args.cut_s,
            "tcp_rto_max_ms": args.tcp_rto_max_ms or "kernel default",
            "link_cut": {
                "longest_label_gap_s": summary([c["longest_label_gap_s"] for c in cuts]),
                "handback_s": summary([c["handback_s"] for c in cuts]),
                "first_cloud_result_after_restore_s": summary([c["first_cloud_result_s"] for c in cuts]),
                "label_latency_while_cut_s": summary(latencies) if latencies else None,
                "runs": cuts,
            },
            "cloud_kill_restart": killed,
            "nodes_exited": g.exited(),
        }
        (args.out / "nodes.log").write_text(system["log"].getvalue())
        (args.out / "arrivals.json").write_text(json.dumps(a.events))
        print(json.dumps(report, indent=2))
    finally:
        if system is not None:
            stop_system(system)
        hosts.delete()


if __name__ == "__main__":
    main()
