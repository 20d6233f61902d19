"""Edge segmentation node: ENet on the robot, the stand-in when the cloud's results do not arrive.

Same node as the cloud's segmentation (seg_ros.segmentation.SegmentationNode), with edge defaults
(model enet, labels only) and a `mode`:

- hot_standby: segments every frame it can, so the arbiter always has an edge result at hand;
  a cloud failure costs no takeover delay, at the price of the CPU/GPU it keeps busy.
- on_demand: segments only while the link status (link/status, from link_monitor) is not GOOD,
  and for `on_demand_tail_s` after it returns to GOOD (the arbiter hands back to the cloud with
  hysteresis, so it still needs edge results for a while). With no link status for
  `link_status_timeout_s` (monitor gone) it segments, to be safe. Saves the compute, at the cost
  of a takeover delay: the link monitor has to call the link DOWN/DEGRADED first.

Topics (relative names; the graph remaps them): image in, labels out (+ color_mask, overlay,
labels/compressed when enabled), label_info (latched), link/status in.
"""
from __future__ import annotations

import time

from seg_interfaces.msg import LinkStatus
from seg_ros import qos
from seg_ros.node import run
from seg_ros.segmentation import SegmentationNode

MODES = ("hot_standby", "on_demand")


class EdgeSegmentationNode(SegmentationNode):
    STAGE = "edge_segmentation"  # its timing must not pass for the cloud segmentation's of the same frame
    PARAMETERS = {
        **SegmentationNode.PARAMETERS,
        "model": ("enet", "model name from the seg_core registry (the edge model)"),
        "publish_color_mask": (False, "publish the colored mask (the arbiter makes the one planners use)"),
        "publish_overlay": (False, "publish the overlay (the arbiter makes the one planners use)"),
        "publish_compressed_labels": (False, "publish labels/compressed (PNG)"),
        "mode": ("hot_standby", "hot_standby: always segment; on_demand: only while the link is not GOOD"),
        "on_demand_tail_s": (5.0, "on_demand: keep segmenting this long after the link returns to GOOD"),
        "link_status_timeout_s": (3.0, "on_demand: segment when no link status arrived for this long"),
    }

    def __init__(self):
        super().__init__("edge_segmentation")
        p = self.params
        mode = p["mode"]
        self._on_demand = mode == "on_demand"
        self._link_state: int | None = None
        self._link_seen = float("-inf")         # until a status arrives, segment
        self._good_since: float | None = None
        self._active: bool | None = None
        if self._on_demand:
            self.create_subscription(LinkStatus, "link/status", self._on_link, qos.LATCHED)
        detail = f" (segmenting while the link is not GOOD, plus {p['on_demand_tail_s']:g} s)"
        self.get_logger().info(f"mode {mode}" + (detail if self._on_demand else ""))

    def check_parameters(self, p: dict) -> None:
        super().check_parameters(p)
        if p["mode"] not in MODES:
            raise ValueError(f"mode '{p['mode']}' is not one of {', '.join(MODES)}")
        if p["on_demand_tail_s"] < 0 or p["link_status_timeout_s"] <= 0:
            raise ValueError("on_demand_tail_s must be >= 0 and link_status_timeout_s > 0")

    def _on_link(self, msg: LinkStatus) -> None:
        now = time.monotonic()
        if msg.state == LinkStatus.GOOD and (self._link_state != LinkStatus.GOOD or self._good_since is None):
            self._good_since = now
        elif msg.state != LinkStatus.GOOD:
            self._good_since = None
        self._link_state = msg.state
        self._link_seen = now

    def should_process(self) -> bool:
        if not self._on_demand:
            return True
        now = time.monotonic()
        p = self.params
        if now - self._link_seen > p["link_status_timeout_s"]:
            active, why = True, "no link status"
        elif self._link_state != LinkStatus.GOOD:
            active, why = True, "link not GOOD"
        else:
            active = now - self._good_since < p["on_demand_tail_s"]
            why = "link GOOD, tail" if active else "link GOOD"
        if active != self._active:
            self.get_logger().info(f"{'segmenting' if active else 'standing by'} ({why})")
            self._active = active
        return active


def main(args=None):
    run(EdgeSegmentationNode, args)
