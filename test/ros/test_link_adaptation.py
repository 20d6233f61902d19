"""The edge adapts to the link's bandwidth: real network namespaces, Zenoh across a veth, `tc tbf`
caps changed while the graph runs (uncapped -> 600 kbit/s -> 200 kbit/s -> uncapped), the link
adaptation driving the encoder along the shipped ladder. (Below the lowest rung the controller
holds the edge active, test/test_adaptation.py; on this veth such a cap also starves Zenoh's
own keep-alives, and the session takes longer than the 10 s climb to come back.) The camera is 640x480
at 30 fps, as the ladder was measured; the rungs send 15 of them, and the frame selector is off so
that what is sent is what the ladder says (test_frame_selector covers the selector). The arbiter
makes no mask or overlay, to leave the shared cores to the rest.
Needs root and iproute2; skips with the reason otherwise.
"""
from __future__ import annotations

import time

import pytest

from support import wait_for
from two_hosts import EDGE_GROUPS, TEST_OVERRIDES, active_source, start_system, stop_system

from seg_core.edge.adaptation import SHIPPED_LADDER, load_ladder  # noqa: E402

LADDER = load_ladder(SHIPPED_LADDER)
SETTLE_S = 2.0        # the sent rate must fit a new cap this soon
HOLD_S = 10.0         # each cap is held this long
OVERRIDES = {**TEST_OVERRIDES,
             "camera": {"width": 640, "height": 480, "rate": 30.0},
             "link_adaptation": {"frame_selection": False},
             "segmentation_arbiter": {**TEST_OVERRIDES["segmentation_arbiter"], "publish_overlay": False,
                                      "publish_color_mask": False}}
MAX_SILENCE_S = OVERRIDES["segmentation_arbiter"]["deadline_s"] + 0.2   # + scheduling on 2 busy cores


@pytest.fixture(scope="module")
def system(hosts):
    system = start_system(hosts, OVERRIDES, edge_groups=(*EDGE_GROUPS, "adaptation"))
    yield system
    codes = stop_system(system)
    assert all(code in (0, -2) for code in codes.values()), f"exit codes {codes}\n{system['log'].getvalue()[-4000:]}"


def decisions(arrivals, since: float = 0.0) -> str:
    """The link adaptation's rungs and reasons, and what the link monitor said, since `since`, a line
    each, for failure messages."""
    lines = [(e["t"], f"rung {e['rung']}{' (edge held)' if e['use_edge'] else ''}: {e['reason']}")
             for e in arrivals.of("adaptation", since)]
    lines += [(e["t"], f"link {e['state']}: sent {e['sent_kbps']} delivered {e['delivered_kbps']} kbit/s, "
                       f"recent RTT {e['rtt_recent_ms']} ms") for e in arrivals.of("link", since)]
    return "\n".join(f"{t - since:7.2f} s {text}" for t, text in sorted(lines))


def rung(arrivals) -> int | None:
    return (arrivals.latest("adaptation") or {}).get("rung")


def hold_cap(system, kbit: int | None) -> tuple[float, float]:
    """Cap the edge's uplink at `kbit` (None: lift the cap) for HOLD_S; returns (start, end)."""
    hosts = system["hosts"]
    t0 = time.time()
    if kbit is None:
        hosts.uncap()
    else:
        hosts.cap(kbit)
    time.sleep(HOLD_S)
    return t0, time.time()


def sent_after_settling(arrivals, t0: float, t1: float) -> list[float]:
    return [e["sent_kbps"] for e in arrivals.of("link", t0 + SETTLE_S) if e["t"] <= t1]


def test_the_rung_follows_the_caps_and_climbs_back(system):
    a = system["arrivals"]
    assert wait_for(lambda: rung(a) == 0, 30), f"not on the top rung before the caps\n{decisions(a)}"
    t_start = time.time()
    phases = {}
    try:
        for cap in (600, 200):
            t0, t1 = hold_cap(system, cap)
            sent = sent_after_settling(a, t0, t1)
            changes = [e for e in a.of("adaptation", t0 + SETTLE_S) if e["t"] <= t1]
            statuses = [e for e in a.of("status", t0 + SETTLE_S) if e["t"] <= t1]
            phases[cap] = {"sent_kbps_p90": sorted(sent)[int(0.9 * len(sent))], "rung": rung(a),
                           "cloud_share": round(sum(e["source"] == "cloud" for e in statuses) / len(statuses), 3),
                           "active": sorted({e["active"] for e in statuses}),
                           "rungs_seen": sorted({e["rung"] for e in changes})}
            assert sorted(sent)[int(0.9 * len(sent))] <= cap, f"sent {sent} kbit/s under a {cap} kbit/s cap\n" \
                                                              f"{decisions(a, t0)}"
            fitting = LADDER[rung(a)].kbps <= cap or phases[cap]["sent_kbps_p90"] <= 0.8 * cap
            assert fitting and active_source(a) == "cloud", f"{phases}\n{decisions(a, t0)}"
    finally:
        system["hosts"].uncap()
    t_lift = time.time()
    assert wait_for(lambda: rung(a) == 0, 10), \
        f"not back on the top rung 10 s after the cap lifted: {rung(a)}\n{decisions(a, t_lift)}"
    assert wait_for(lambda: active_source(a) == "cloud", 10)
    gap = a.longest_gap("labels", t_start, time.time())
    reused = sum(bool(e.get("reused")) for e in a.of("status", t_start))
    assert reused, "no frame left out by the rung's frame rate got the cloud's labels again"
    print("adaptation:", phases, f"top rung {time.time() - t_lift:.1f} s after the cap lifted, "
          f"longest gap {gap:.3f} s, {reused} frames with reused cloud labels")
    # The arbiter waits for a late cloud result at most its deadline (0.6 s here, where the cloud's
    # model shares 2 cores with everything else), then serves ENet's: the longest silence is that
    # wait and a little. adaptation_report measures it with the product's 0.25 s deadline.
    assert gap <= MAX_SILENCE_S, f"/segmentation/labels silent {gap:.3f} s"
    assert not system["graph"].exited(), system["graph"].exited()
