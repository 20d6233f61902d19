"""An edge host and a cloud host (network namespaces, see netns.py) running the product's graph,
Zenoh between them, and what arrives at the edge's outputs (arrivals.py)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from support import DomainLease, wait_for
from netns import HostPair

from seg_bringup.runner import Graph, Host, ORPHAN_GUARD  # noqa: E402

RATE = 30.0
OVERRIDES = {
    "camera": {"width": 320, "height": 240, "rate": RATE},
    "h264_encoder": {"bitrate": 600000},
    # Both models at the camera's 320x240 (not upscaled to their 512x256 training size): edge and
    # cloud share this host's cores, where each would have its own.
    "segmentation": {"threads": 1, "input_width": 320, "input_height": 240,
                     "publish_overlay": False, "publish_color_mask": False},
    "edge_segmentation": {"threads": 1, "input_width": 320, "input_height": 240},
    "edge_bridge": {"connect": f"['tcp/{HostPair.CLOUD_IP}:7447']"},
    "cloud_bridge": {"listen": f"['tcp/{HostPair.CLOUD_IP}:7447']"},
}
# The tests are about takeover and handback, not the cloud's speed: on a busy shared host its
# results come later than the product's 0.25 s deadline (bench_link_faults.py keeps that one).
TEST_OVERRIDES = {**OVERRIDES, "segmentation_arbiter": {"deadline_s": 0.6}}


class Arrivals:
    """Reads arrivals.py's JSON lines from inside the edge host."""

    def __init__(self, prefix: list[str], env: dict[str, str]):
        script = Path(__file__).with_name("arrivals.py")
        self.proc = subprocess.Popen(ORPHAN_GUARD + prefix + [sys.executable, str(script)], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def of(self, topic: str, since: float = 0.0) -> list[dict]:
        return [e for e in list(self.events) if e["topic"] == topic and e["t"] >= since]

    def latest(self, topic: str) -> dict | None:
        events = self.of(topic)
        return events[-1] if events else None

    def longest_gap(self, topic: str, since: float, until: float) -> float:
        times = [since] + [e["t"] for e in self.of(topic, since) if e["t"] <= until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


EDGE_GROUPS = ("edge", "edge_bridge")
CLOUD_GROUPS = ("cloud", "cloud_bridge")


def start_system(hosts: HostPair, overrides: dict = OVERRIDES, timeout: float = 150.0,
                 edge_groups: tuple[str, ...] = EDGE_GROUPS) -> dict:
    """The edge groups in the edge host, the cloud groups in the cloud host, Zenoh between them;
    returns once the arbiter publishes cloud results and the link monitor's probes are answered
    (link GOOD): cloud results alone do not show that the probe path, which the link adaptation and
    the failover judge the link by, is up. Each host's DDS has a domain of its own."""
    leases = [DomainLease(), DomainLease()]
    edge, cloud = Host(hosts.prefix("edge"), leases[0].env()), Host(hosts.prefix("cloud"), leases[1].env())
    log = io.StringIO()
    graph = Graph([*edge_groups, *CLOUD_GROUPS], overrides, output=log,
                  hosts={**{g: edge for g in edge_groups}, **{g: cloud for g in CLOUD_GROUPS}})
    graph.start()
    arrivals = Arrivals(edge.prefix, {**os.environ, **edge.env})
    system = {"graph": graph, "arrivals": arrivals, "log": log, "hosts": hosts, "leases": leases}
    if not wait_for(lambda: active_source(arrivals) == "cloud" and link_state(arrivals) == "GOOD", timeout):
        link = arrivals.latest("link") or {}
        stop_system(system)
        raise AssertionError(f"within {timeout:g} s: active source {active_source(arrivals)}, link "
                             f"{link.get('state')} ({link.get('reason')}), expected cloud and GOOD\n"
                             f"{log.getvalue()[-6000:]}")
    return system


def stop_system(system: dict) -> dict[str, int]:
    system["arrivals"].stop()
    codes = system["graph"].stop()
    for lease in system["leases"]:
        lease.release()
    return codes


def active_source(arrivals) -> str | None:
    """The arbiter's active source (a frame's own source may be a stand-in)."""
    return (arrivals.latest("status") or {}).get("active")


def link_state(arrivals) -> str | None:
    return (arrivals.latest("link") or {}).get("state")
