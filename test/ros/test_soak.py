"""A 10-minute soak of the whole pipeline, edge and cloud (slow: `pytest -m slow test/ros/test_soak.py`).

After a minute's warm-up, every node's resident memory grows by less than 20 MB, its open file
descriptors and threads do not grow, /segmentation/labels keeps flowing, and the decoder sees no
gap in the reliable H.264 stream. SEG_SOAK_S sets another duration (seconds).
"""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from support import longest_gap, wait_for

from sensor_msgs.msg import Image  # noqa: E402

from seg_bringup.runner import Graph  # noqa: E402
from seg_ros import qos  # noqa: E402

SOAK_S = float(os.environ.get("SEG_SOAK_S", "600"))
WARMUP_S = 60.0
OVERRIDES = {"camera": {"width": 320, "height": 240, "rate": 15},
             "segmentation": {"threads": 1, "input_width": 320, "input_height": 240},
             "edge_segmentation": {"threads": 1}}


def resources(graph: Graph) -> dict[str, dict[str, float]]:
    """Resident memory (MB), open file descriptors and threads of each node process."""
    out = {}
    for name, proc in graph.processes.items():
        status = dict(line.split(":", 1) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines())
        out[name] = {"rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
                     "fds": len(os.listdir(f"/proc/{proc.pid}/fd")), "threads": int(status["Threads"])}
    return out


@pytest.mark.slow
def test_pipeline_soak_keeps_memory_descriptors_and_threads_flat(ros_node):
    arrivals: list[float] = []
    ros_node.create_subscription(Image, "/segmentation/labels", lambda _: arrivals.append(time.monotonic()),
                                 qos.QUEUED_FRAMES)
    log = io.StringIO()
    graph = Graph(["edge", "cloud"], OVERRIDES, output=log)
    graph.start()
    try:
        assert wait_for(lambda: arrivals, 120), log.getvalue()
        t_start = time.monotonic()
        time.sleep(WARMUP_S)
        before = resources(graph)
        samples = [before]
        while time.monotonic() < t_start + SOAK_S:
            time.sleep(30.0)
            assert not graph.exited(), f"{graph.exited()}\n{log.getvalue()[-5000:]}"
            samples.append(resources(graph))
        after = samples[-1]
        gap = longest_gap(arrivals, t_start, time.monotonic())
    finally:
        codes = graph.stop()
    growth = {n: {k: round(after[n][k] - before[n][k], 1) for k in before[n]} for n in before}
    lost = [line for line in log.getvalue().splitlines() if "a packet was lost" in line]
    print("\nsoak:", json.dumps({"seconds": SOAK_S, "labels": len(arrivals), "longest_labels_gap_s": round(gap, 3),
                                 "growth_after_warmup": growth, "after": after, "lost_packets": len(lost)}))
    assert all(code == 0 for code in codes.values()), codes
    assert not lost, "\n".join(lost)
    for name, g in growth.items():
        assert g["rss_mb"] < 20, f"{name} memory grew {g['rss_mb']} MB"
        assert g["fds"] <= 0 and g["threads"] <= 0, f"{name}: {g}"
