"""FrameArbiter: deadline choice, stamp order, fills, failover/handback hysteresis, bounded memory."""
import math
import random

import pytest

from seg_core.edge.arbiter import CLOUD, EDGE, ArbiterConfig, FrameArbiter
from seg_core.edge.link import DEGRADED, DOWN, GOOD

FPS = 30.0


class Sim:
    """Camera frames at 30 fps; the edge answers after `edge_lat`, the cloud after `cloud_lat`.

    `cloud_ok(i, t)` / `edge_ok(i, t)` say whether frame i gets a result; `sent(i)` whether the edge
    sends frame i to the cloud (one that is not gets no cloud result); poll runs every 5 ms.
    `cloud_lat` may be a function of the frame index.
    """

    def __init__(self, arbiter, cloud_lat=0.12, edge_lat=0.04, tick=True):
        self.arb = arbiter
        self.tick = tick      # False: poll only on inputs and at next_due(), like the node
        self.cloud_lat, self.edge_lat = cloud_lat, edge_lat
        self.cloud_ok = lambda i, t: True
        self.edge_ok = lambda i, t: True
        self.sent = lambda i: True
        self.decisions = []   # (publish time, Decision)
        self.t = 0.0
        self.frame = 0
        self.events = []      # (time, kind, frame index)
        self.link_events = []  # (time, state)
        self.polls = 0

    def stamp(self, i):
        return round(i / FPS, 9)

    def run(self, seconds):
        end = self.t + seconds
        while self.frame / FPS < end:
            s = self.stamp(self.frame)
            self.events.append((s + 0.003, "frame", self.frame))
            if self.edge_ok(self.frame, s):
                self.events.append((s + self.edge_lat, EDGE, self.frame))
            if not self.sent(self.frame):
                self.events.append((s + 0.002, "unsent", self.frame))
            elif self.cloud_ok(self.frame, s):
                lat = self.cloud_lat(self.frame) if callable(self.cloud_lat) else self.cloud_lat
                self.events.append((s + lat, CLOUD, self.frame))
            self.frame += 1
        self.events.sort()
        tick = self.t
        while tick < end:
            if self.tick:
                tick = round(tick + 0.005, 9)
            else:   # sleep until the next input or the arbiter's next due time
                nxt = [x for x in (self.arb.next_due(tick), self.events and self.events[0][0],
                                   self.link_events and self.link_events[0][0]) if x]
                tick = min(min(nxt, default=end), end)
            while self.link_events and self.link_events[0][0] <= tick:
                when, state = self.link_events.pop(0)
                self.arb.set_link(state, when)
                self._collect(when)
            while self.events and self.events[0][0] <= tick:
                when, kind, i = self.events.pop(0)
                if kind == "frame":
                    self.arb.add_frame(self.stamp(i), f"img{i}", when)
                elif kind == "unsent":
                    self.arb.frame_not_sent(self.stamp(i), when)
                else:
                    self.arb.add_result(kind, self.stamp(i), f"{kind}{i}", when)
                self._collect(when)
            self._collect(tick)
            self.polls += 1
        self.t = end
        return self

    def _collect(self, t):
        for d in self.arb.poll(t):
            self.decisions.append((t, d))

    def sources(self):
        return [d.source for _, d in self.decisions]

    def latency(self, d_t, d):
        return d_t - d.stamp


def cloud_config(**kw):
    return ArbiterConfig(initial_source=CLOUD, **kw)


def test_on_time_cloud_is_chosen_and_published_once_in_stamp_order_with_its_frame():
    sim = Sim(FrameArbiter(cloud_config(deadline_s=0.25))).run(2.0)
    stamps = [d.stamp for _, d in sim.decisions]
    assert stamps == sorted(set(stamps)) and len(stamps) == sim.frame - sim.arb.pending >= 56
    assert set(sim.sources()) == {CLOUD}
    _, d = sim.decisions[3]
    assert (d.labels, d.frame) == ("cloud3", "img3")
    # Published as soon as the cloud result arrives, not at the deadline.
    assert max(t - d.stamp for t, d in sim.decisions) <= 0.12 + 0.006


def test_cloud_past_deadline_gets_the_edge_result_at_the_deadline():
    sim = Sim(FrameArbiter(cloud_config(deadline_s=0.1)), cloud_lat=0.15).run(0.2)
    t, d = sim.decisions[0]
    assert d.source == EDGE and d.labels == "edge0" and d.active == CLOUD
    assert 0.1 <= t - d.stamp <= 0.106
    assert sim.arb.stats["fills"] >= 1


def test_single_missing_cloud_result_is_filled_from_edge_without_a_switch():
    sim = Sim(FrameArbiter(cloud_config(deadline_s=0.25)))
    sim.cloud_ok = lambda i, t: i != 10
    sim.run(1.0)
    by_stamp = {d.stamp: d for _, d in sim.decisions}
    assert by_stamp[sim.stamp(10)].source == EDGE
    assert {d.source for s, d in by_stamp.items() if s != sim.stamp(10)} == {CLOUD}
    assert sim.arb.stats["switches"] == 0 and sim.arb.active == CLOUD


def test_cloud_outage_fails_over_after_consecutive_misses_and_output_never_stops():
    arb = FrameArbiter(cloud_config(deadline_s=0.25, failover_s=0.15, handback_after=15))
    sim = Sim(arb)
    sim.cloud_ok = lambda i, t: not 3.0 <= t < 6.0
    sim.run(9.0)
    stamps = [d.stamp for _, d in sim.decisions]
    assert len(stamps) == len(set(stamps)) == sim.frame - arb.pending
    times = [t for t, _ in sim.decisions]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= 0.25 + 0.01          # at most the deadline, once, at the start of the outage
    switches = arb.take_switches()
    assert [(s.old, s.new) for s in switches] == [(CLOUD, EDGE), (EDGE, CLOUD)]
    failover, handback = switches
    assert "6 cloud results in a row (0.17 s of frames) missed" in failover.reason
    assert 3.0 + 2 * 0.25 <= failover.t <= 3.0 + 5 / FPS + 2 * 0.25 + 0.01   # misses known at 2 deadlines
    assert "15 cloud results in a row" in handback.reason
    assert 6.0 <= handback.stamp <= 6.0 + 15 / FPS
    # During the outage, once failed over, edge results go out without waiting for the deadline.
    lat = [t - d.stamp for t, d in sim.decisions if 4.0 <= d.stamp < 6.0]
    assert max(lat) <= 0.04 + 0.006
    assert arb.stats["dropped_unserved"] == 0


@pytest.mark.parametrize("adaptive, longest", [(True, 0.05 + 0.03 + 1 / FPS - 0.05), (False, 0.25 + 1 / FPS - 0.05)])
def test_a_fast_cloud_stopping_is_filled_after_its_usual_latency_not_the_whole_deadline(adaptive, longest):
    arb = FrameArbiter(cloud_config(deadline_s=0.25, adaptive_wait=adaptive))
    sim = Sim(arb, cloud_lat=0.05)
    sim.cloud_ok = lambda i, t: t < 3.0
    sim.run(4.0)
    times = [t for t, _ in sim.decisions]
    assert max(b - a for a, b in zip(times, times[1:])) == pytest.approx(longest, abs=0.006)
    assert arb.cloud_wait() == pytest.approx(0.08 if adaptive else 0.25, abs=0.001)
    assert {d.source for _, d in sim.decisions if d.stamp < 2.9} == {CLOUD}


def test_adaptive_wait_covers_a_jittery_cloud_and_never_passes_the_deadline():
    rng = random.Random(1)
    arb = FrameArbiter(cloud_config(deadline_s=0.25))
    # 0.05..0.15 s, drifting and jittering, results still in stamp order (as a cloud sends them)
    sim = Sim(arb, cloud_lat=lambda i: 0.1 + 0.04 * math.sin(i / 5) + rng.uniform(-0.01, 0.01))
    sim.run(20.0)
    assert sim.arb.stats["fills"] <= 0.01 * len(sim.decisions)
    assert 0.15 < arb.cloud_wait() < 0.25
    slow = FrameArbiter(cloud_config(deadline_s=0.25))
    Sim(slow, cloud_lat=lambda i: 0.25 + 0.05 * math.sin(i / 5)).run(5.0)
    assert slow.cloud_wait() == 0.25


def test_link_down_fails_over_at_once_and_handback_waits_for_link_good_or_hits():
    arb = FrameArbiter(cloud_config(deadline_s=0.25, handback_after=1000, handback_s=2.0))
    sim = Sim(arb)
    sim.link_events = [(0.0, GOOD), (1.0, DOWN), (3.0, DEGRADED), (4.0, GOOD)]
    sim.run(7.0)
    (down, up) = arb.take_switches()
    assert (down.new, down.reason, down.t) == (EDGE, "link DOWN", 1.0)
    assert up.new == CLOUD and "link GOOD for 2.0 s" in up.reason and up.t == pytest.approx(6.0, abs=0.006)


def test_link_good_before_a_failover_does_not_count_toward_the_handback():
    arb = FrameArbiter(cloud_config(deadline_s=0.25, failover_s=0.1, handback_after=1000, handback_s=2.0))
    sim = Sim(arb)
    sim.link_events = [(0.0, GOOD)]
    sim.cloud_ok = lambda i, t: not 10.0 <= t < 10.6    # misses in a row while the link stays GOOD
    sim.run(14.0)
    fail, back = arb.take_switches()
    assert (fail.new, back.new) == (EDGE, CLOUD)
    assert back.t - fail.t == pytest.approx(2.0, abs=0.01)
    assert "2.0 s on the edge" in back.reason


def test_hits_hand_back_while_the_monitor_still_says_down_and_only_a_new_down_fails_over():
    arb = FrameArbiter(cloud_config(handback_after=10, failover_s=0.5))
    sim = Sim(arb)
    sim.cloud_ok = lambda i, t: not 1.0 <= t < 2.0                      # link cut 1..2 s
    sim.link_events = [(0.0, GOOD), (1.2, DOWN), (1.7, DOWN), (2.2, DOWN), (2.7, DOWN), (3.2, DEGRADED),
                       (4.0, DOWN)]
    sim.run(5.0)
    fail, back, again, back_again = arb.take_switches()
    assert (fail.new, fail.reason) == (EDGE, "link DOWN") and fail.t == pytest.approx(1.2)
    # back on the cloud 10 hits after the results return (at 2.0 s + 0.12 s latency), link still DOWN
    assert back.new == CLOUD and "10 cloud results in a row" in back.reason
    assert back.t == pytest.approx(2.0 + 9 / FPS + 0.12, abs=0.01)
    assert (again.new, again.reason, again.t) == (EDGE, "link DOWN", 4.0)
    assert back_again.new == CLOUD and 4.2 <= back_again.t <= 4.0 + 10 / FPS + 0.13


def test_starts_on_edge_and_hands_back_to_cloud_once():
    arb = FrameArbiter(ArbiterConfig(handback_after=15))
    sim = Sim(arb).run(3.0)
    assert arb.stats["switches"] == 1 and arb.active == CLOUD
    assert sim.sources()[0] == EDGE and sim.sources()[-1] == CLOUD


@pytest.mark.parametrize("initial", [CLOUD, EDGE])
def test_five_percent_missing_cloud_results_never_flap_over_60s(initial):
    rng = random.Random(42)
    arb = FrameArbiter(ArbiterConfig(initial_source=initial, deadline_s=0.25))
    sim = Sim(arb)
    sim.cloud_ok = lambda i, t: rng.random() >= 0.05
    sim.run(60.0)
    switches = arb.take_switches()
    assert len(switches) == (0 if initial == CLOUD else 1), switches
    lost = arb.stats["cloud_misses"] + arb.stats["cloud_skips"]
    assert lost > 50                              # the losses happened ...
    assert arb.stats["published_edge"] >= lost    # ... and got the edge result
    stamps = [d.stamp for _, d in sim.decisions]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps)) == sim.frame - arb.pending
    assert arb.pending <= 0.25 * FPS + 3          # memory: only frames still in their deadline


def test_cloud_slower_than_camera_is_filled_and_handed_back_by_link_good():
    arb = FrameArbiter(ArbiterConfig(handback_after=15, handback_s=2.0, failover_s=0.5))
    sim = Sim(arb)
    sim.cloud_ok = lambda i, t: i % 2 == 0       # the cloud keeps up with every other frame
    sim.link_events = [(0.0, GOOD)]
    sim.run(20.0)
    assert [s.new for s in arb.take_switches()] == [CLOUD]
    late = [d for _, d in sim.decisions if d.stamp > 3.0]
    assert {d.source for d in late if round(d.stamp * FPS) % 2 == 0} == {CLOUD}
    assert {d.source for d in late if round(d.stamp * FPS) % 2 == 1} == {EDGE}
    # skipped frames are known at once (the cloud already answered a newer one): no deadline wait
    assert max(t - d.stamp for t, d in sim.decisions if d.stamp > 3.0) <= 0.12 + 1 / FPS + 0.006


@pytest.mark.parametrize("cloud_lat, initial", [(0.2, EDGE), (0.3, CLOUD)])
def test_a_cloud_taking_every_fourth_frame_is_judged_by_the_frames_it_takes(cloud_lat, initial):
    # 0.2 s: on time for its frames, though a skipped frame's newer result comes after that frame's
    # own deadline -> skips, handback by hits. 0.3 s: late, its skipped frames are misses -> failover.
    arb = FrameArbiter(ArbiterConfig(initial_source=initial, handback_after=10, deadline_s=0.25, failover_s=0.5))
    sim = Sim(arb, cloud_lat=cloud_lat)
    sim.cloud_ok = lambda i, t: i % 4 == 0
    sim.run(3.0)
    (switch,) = arb.take_switches()
    if initial == EDGE:
        assert switch.new == CLOUD and "10 cloud results in a row" in switch.reason
        assert switch.t == pytest.approx(36 / FPS + 0.2, abs=0.01)
        assert arb.stats["cloud_misses"] == 0 and arb.stats["cloud_skips"] > 40
    else:
        assert switch.new == EDGE and arb.stats["cloud_hits"] == arb.stats["cloud_skips"] == 0


def test_frames_neither_source_serves_are_dropped_without_holding_back_newer_ones():
    arb = FrameArbiter(cloud_config(deadline_s=0.25, max_wait_s=0.5))
    sim = Sim(arb)
    sim.cloud_ok = sim.edge_ok = lambda i, t: i % 3 != 1
    sim.run(2.0)
    assert arb.stats["dropped_unserved"] >= 18
    assert max(t - d.stamp for t, d in sim.decisions) <= 0.12 + 0.006
    assert {d.source for _, d in sim.decisions} == {CLOUD}


def test_late_cloud_result_is_used_only_when_the_edge_has_nothing():
    arb = FrameArbiter(cloud_config(deadline_s=0.1, max_wait_s=0.5, failover_s=1000.0))
    sim = Sim(arb, cloud_lat=0.2)
    sim.edge_ok = lambda i, t: False
    sim.run(1.0)
    assert {(d.source, d.late) for _, d in sim.decisions} == {(CLOUD, True)}
    assert min(t - d.stamp for t, d in sim.decisions) >= 0.2


def test_edge_only_with_dead_edge_still_publishes_cloud_stand_ins():
    arb = FrameArbiter(ArbiterConfig(initial_source=EDGE, handback_after=10**6, deadline_s=0.25))
    sim = Sim(arb)
    sim.edge_ok = lambda i, t: i < 10
    sim.run(3.0)
    srcs = sim.sources()
    assert srcs[:10] == [EDGE] * 10 and set(srcs[10:]) == {CLOUD}
    assert len(srcs) == sim.frame - arb.pending
    # a stand-in waits for the edge until the deadline, no longer
    assert max(t - d.stamp for t, d in sim.decisions) <= 0.25 + 0.006


def test_on_the_edge_frames_it_skips_do_not_wait_for_a_cloud_that_is_not_delivering():
    arb = FrameArbiter(cloud_config(deadline_s=0.25, failover_s=0.5, handback_after=10**6))
    sim = Sim(arb, edge_lat=0.06)
    sim.edge_ok = lambda i, t: i % 3 == 0        # the edge keeps up with every third frame
    sim.cloud_ok = lambda i, t: t < 2.0
    sim.link_events = [(0.0, GOOD), (4.0, DOWN)]
    sim.run(6.0)
    assert [s.new for s in arb.take_switches()] == [EDGE]
    # failed over (misses over failover_s, known at twice their deadline), the cloud silent:
    # frames the edge skipped are dropped at once
    quiet = [(t, d) for t, d in sim.decisions if 2.0 + 0.5 + 2 * 0.25 + 0.1 <= d.stamp < 4.0]
    assert quiet and {d.source for _, d in quiet} == {EDGE}
    assert max(t - d.stamp for t, d in quiet) <= 0.06 + 0.006
    # the link DOWN says the same at once
    down = [(t, d) for t, d in sim.decisions if d.stamp >= 4.0]
    assert down and max(t - d.stamp for t, d in down) <= 0.06 + 0.006


def test_stale_duplicate_and_far_future_results_are_refused_and_counted():
    arb = FrameArbiter(cloud_config(horizon_s=2.0))
    assert arb.add_result(CLOUD, 1.0, "a", 1.05)
    assert arb.poll(1.06)[0].labels == "a"
    assert not arb.add_result(EDGE, 1.0, "late edge", 1.07)    # frame already decided
    assert not arb.add_result(CLOUD, 0.5, "old", 1.1)          # older than a decided frame
    assert not arb.add_result(EDGE, 100.0, "future", 1.1)      # clock far off
    assert arb.add_result(EDGE, 1.2, "x", 1.25)
    assert not arb.add_result(EDGE, 1.2, "x again", 1.26)
    s = arb.stats
    assert (s["stale_results"], s["future_stamps"], s["duplicate_results"]) == (2, 1, 1)


def test_a_far_future_stamp_does_not_make_a_source_look_like_it_skipped_frames():
    arb = FrameArbiter(cloud_config(deadline_s=0.25))
    arb.add_result(CLOUD, 500.0, "bogus", 1.0)
    arb.add_frame(1.0, "img", 1.0)
    arb.add_result(EDGE, 1.0, "edge", 1.02)
    assert arb.poll(1.05) == []                 # still waiting for the cloud
    arb.add_result(CLOUD, 1.0, "cloud", 1.1)
    assert [d.source for d in arb.poll(1.1)] == [CLOUD]


def test_camera_clock_going_back_starts_the_timeline_over():
    arb = FrameArbiter(ArbiterConfig(initial_source=EDGE, horizon_s=2.0))
    for i in range(10):
        arb.add_frame(100 + i / FPS, i, 100 + i / FPS)
        arb.add_result(EDGE, 100 + i / FPS, i, 100 + i / FPS + 0.01)
    assert len(arb.poll(101.0)) == 10
    arb.add_frame(5.0, "replay", 5.0)          # a bag replay started over
    arb.add_result(EDGE, 5.0, "again", 5.01)
    assert [d.labels for d in arb.poll(5.02)] == ["again"]
    assert arb.stats["clock_resets"] == 1


def test_memory_is_bounded_by_horizon_and_max_frames():
    arb = FrameArbiter(ArbiterConfig(horizon_s=1.0, max_wait_s=1.0, max_frames=50))
    for i in range(1000):                      # camera frames that never get a result, no polling
        arb.add_frame(i / FPS, b"x" * 10, i / FPS)
    assert arb.pending <= 50 and arb.stats["dropped_overflow"] >= 950
    arb.poll(1000 / FPS + 5.0)
    assert arb.pending == 0
    assert arb.stats["dropped_overflow"] + arb.stats["dropped_expired"] + arb.stats["dropped_unserved"] == 1000


@pytest.mark.parametrize("kw,match", [({"deadline_s": 0}, "deadline_s"), ({"failover_s": 0}, "failover_s"),
                                      ({"max_wait_s": 0.1}, "max_wait_s"),
                                      ({"initial_source": "x"}, "initial_source"),
                                      ({"horizon_s": 0.5}, "horizon_s")])
def test_bad_config_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        FrameArbiter(ArbiterConfig(**kw))


def test_polling_at_next_due_only_decides_like_polling_every_5_ms():
    def scenario(tick):
        rng = random.Random(3)
        arb = FrameArbiter(ArbiterConfig(deadline_s=0.25, failover_s=0.1, handback_after=10, handback_s=2.0))
        sim = Sim(arb, tick=tick)
        sim.cloud_ok = lambda i, t: not 2.0 <= t < 4.0 and rng.random() >= 0.1
        sim.edge_ok = lambda i, t: i % 7 != 3
        sim.link_events = [(0.0, GOOD), (2.5, DOWN), (5.0, GOOD)]
        sim.run(10.0)
        return sim, [(d.stamp, d.source, d.late, round(t, 3)) for t, d in sim.decisions]

    ticked, ref = scenario(True)
    lazy, got = scenario(False)
    assert [x[:3] for x in got] == [x[:3] for x in ref]
    # the same decisions, each no later than the 5 ms ticks would have made it
    assert all(g[3] <= r[3] + 1e-9 for g, r in zip(got, ref))
    assert lazy.polls < ticked.polls / 2


def test_a_frame_not_sent_gets_the_newest_cloud_labels_marked_reused_and_is_no_miss():
    sim = Sim(FrameArbiter(cloud_config(deadline_s=0.25)))
    sim.sent = lambda i: i % 3 == 0          # a frame selector sending one frame in three
    sim.run(5.0)
    assert sim.arb.stats["cloud_misses"] == 0 and sim.arb.stats["switches"] == 0
    assert sim.arb.stats["cloud_unsent"] >= 95
    for t, d in sim.decisions:
        i = round(d.stamp * FPS)
        assert d.source == CLOUD and d.reused == (i % 3 != 0)
        assert d.labels == f"cloud{i - i % 3}" and d.frame == f"img{i}"
        # Served once the frame before it is: never later than the cloud's latency.
        assert t - d.stamp <= 0.12 + 0.006


def test_a_frame_not_sent_while_the_edge_is_active_gets_the_edge_labels():
    sim = Sim(FrameArbiter(ArbiterConfig(initial_source=EDGE)))
    sim.sent = lambda i: i % 2 == 0
    sim.cloud_ok = lambda i, t: False
    sim.run(2.0)
    assert {d.source for _, d in sim.decisions} == {EDGE}
    assert not any(d.reused for _, d in sim.decisions)
    assert sim.arb.stats["dropped_unserved"] == 0


def test_a_frame_not_sent_long_after_the_last_cloud_labels_is_not_given_them():
    sim = Sim(FrameArbiter(cloud_config(deadline_s=0.25, failover_s=1.0)))
    sim.sent = lambda i: i < 3               # three frames sent, then nothing for 2 s
    sim.run(2.0)
    late = [d for _, d in sim.decisions if d.stamp > 3 / FPS + 1.0 + 1e-6]
    assert late and {d.source for d in late} == {EDGE}
    assert all(d.reused for _, d in sim.decisions if d.source == CLOUD and d.stamp >= 3 / FPS)


def test_the_link_adaptation_holds_the_edge_active_until_it_lets_go():
    sim = Sim(FrameArbiter(cloud_config()))
    sim.run(1.0)
    sim.arb.hold_edge("the lowest rung (60 kbit/s) does not fit 40 kbit/s delivered", sim.t)
    switch = sim.arb.take_switches()[-1]
    assert switch.new == EDGE and "lowest rung" in switch.reason
    sim.run(3.0)                             # on-time cloud results: no handback while held
    assert sim.arb.active == EDGE
    sim.arb.hold_edge("", sim.t)
    sim.run(1.0)
    assert sim.arb.active == CLOUD
