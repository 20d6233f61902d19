"""LinkEstimator: probe bookkeeping, RTT/loss windows, throughput and the GOOD/DEGRADED/DOWN machine."""
import math
import random

import pytest

from seg_core.edge.link import DEGRADED, DOWN, GOOD, LinkConfig, LinkEstimator

PROBE_HZ = 10.0


class Sim:
    """Drives an estimator with probes every 0.1 s, replies after `rtt` unless `lost(seq)`."""

    def __init__(self, config=None, rtt=0.02, video_kbps=800.0, delivered=1.0, results=True):
        self.est = LinkEstimator(config or LinkConfig())
        self.t, self.seq = 0.0, 0
        self.rtt, self.video_kbps, self.delivered, self.results = rtt, video_kbps, delivered, results
        self.lost = lambda seq: False
        self.replies: list[tuple[float, int]] = []
        self.history: list = []

    def run(self, seconds: float, dt: float = 1.0 / PROBE_HZ):
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t = round(self.t + dt, 9)
            self.est.probe_sent(self.seq, self.t)
            if not self.lost(self.seq):
                self.replies.append((self.t + self.rtt, self.seq))
            self.seq += 1
            if self.video_kbps:
                self.est.video_sent(int(self.video_kbps * 1000 / 8 * dt), self.t)
            if self.results and self.video_kbps:
                self.est.cloud_result(self.t - 0.15, self.t)  # results ~150 ms behind the camera
            due = [r for r in self.replies if r[0] <= self.t]
            self.replies = [r for r in self.replies if r[0] > self.t]
            for when, seq in due:
                self.est.reply_received(seq, when, self.video_kbps * self.delivered)
            snap = self.est.update(self.t)
            self.history.append(snap)
        return self.history[-1]

    def transitions(self):
        return [(round(s.t, 2), s.previous, s.state) for s in self.history if s.changed]


def test_starts_down_and_recovers_to_good_only_after_recover_s():
    sim = Sim(LinkConfig(recover_s=2.0))
    snap = sim.run(0.05, dt=0.05)
    assert snap.state == DOWN and "no probe reply yet" in snap.reason
    snap = sim.run(1.0)
    assert snap.state == DOWN and "recovering to GOOD" in snap.reason
    sim.run(1.2)
    snap = sim.history[-1]
    assert snap.state == GOOD
    (t, prev, new), = sim.transitions()
    assert (prev, new) == (DOWN, GOOD) and 2.0 <= t <= 2.3
    assert snap.rtt_s == pytest.approx(0.02, abs=1e-6)
    assert snap.loss == 0.0
    assert snap.sent_kbps == pytest.approx(800.0, rel=0.02)
    assert snap.delivered_kbps == pytest.approx(800.0)
    assert snap.result_age_s == pytest.approx(0.15)


def test_no_reply_for_down_after_s_is_down_at_once_with_a_reason():
    sim = Sim(LinkConfig(down_after_s=1.0, recover_s=1.0))
    sim.run(3.0)
    assert sim.est.state == GOOD
    sim.lost = lambda seq: True
    sim.results = False
    sim.run(0.9)
    assert sim.est.state == GOOD
    snap = sim.run(0.3)
    assert snap.state == DOWN and "no probe reply for 1.2 s (limit 1 s)" in snap.reason
    change = next(s for s in sim.history if s.changed and s.state == DOWN)
    assert change.previous == GOOD and "no probe reply for 1.1 s" in change.reason


def test_stale_cloud_results_are_the_cloud_late_not_the_link_down():
    sim = Sim(LinkConfig(max_result_age_s=1.0, recover_s=0.5))
    sim.run(2.0)
    assert sim.est.state == GOOD and sim.est.update(sim.t).cloud_late == ""
    sim.results = False  # cloud segmentation dead or slow, responder alive
    snap = sim.run(1.0)
    assert snap.state == GOOD and "newest cloud result is 1.1 s old" in snap.cloud_late
    # Not sending video: an old result says nothing.
    sim.video_kbps = 0.0
    snap = sim.run(1.1)  # the sent-video window empties
    assert snap.cloud_late == ""


def test_cloud_late_before_the_first_cloud_result_while_sending_video():
    sim = Sim(LinkConfig(recover_s=0.5), results=False)
    snap = sim.run(3.0)
    assert snap.state == GOOD and snap.cloud_late == "no cloud result yet while sending video"
    sim.results = True
    snap = sim.run(1.0)
    assert snap.cloud_late == ""
    # Without video, probes alone make the link GOOD.
    quiet = Sim(LinkConfig(recover_s=0.5), video_kbps=0.0, results=False)
    assert quiet.run(1.0).state == GOOD


def test_rtt_median_over_window_degrades_and_clears_with_hysteresis():
    cfg = LinkConfig(window_s=2.0, degraded_rtt_s=0.3, recover_s=1.0, clear_fraction=0.8)
    sim = Sim(cfg, rtt=0.05)
    sim.run(2.0)
    assert sim.est.state == GOOD
    sim.rtt = 0.4
    sim.run(1.5)  # the median follows once most of the window holds slow replies
    snap = sim.history[-1]
    assert snap.state == DEGRADED and "RTT median 400 ms > 300 ms" in snap.reason
    sim.rtt = 0.27  # under the threshold but above its clear level (240 ms)
    sim.run(4.0)
    assert sim.est.state == DEGRADED
    assert "RTT median 270 ms > 240 ms" in sim.history[-1].reason
    sim.rtt = 0.1
    sim.run(3.0)
    assert sim.est.state == GOOD
    assert [(p, n) for _, p, n in sim.transitions()] == [(DOWN, GOOD), (GOOD, DEGRADED), (DEGRADED, GOOD)]


def test_loss_counts_only_probes_old_enough_to_judge():
    cfg = LinkConfig(window_s=5.0, probe_timeout_s=1.0, degraded_loss=0.2, recover_s=0.0)
    est = LinkEstimator(cfg)
    for seq in range(10):
        est.probe_sent(seq, seq * 0.1)
    for seq in range(0, 10, 2):
        est.reply_received(seq, seq * 0.1 + 0.05)
    assert est.loss(0.95) == 0.0          # none is 1 s old yet
    assert est.loss(1.25) == pytest.approx(1 / 3)   # seqs 0..2 judged, seq 1 lost
    assert est.loss(2.0) == pytest.approx(0.5)
    # A reply later than the timeout is still a loss; its RTT still counts.
    est.probe_sent(10, 1.0)
    assert est.reply_received(10, 2.2) == pytest.approx(1.2)
    assert est.loss(3.6) == pytest.approx(6 / 11)
    assert est.reply_received(10, 3.6) is None and est.duplicate_replies == 1
    assert est.reply_received(999, 3.6) is None and est.unknown_replies == 1


def test_probes_lost_before_the_first_reply_or_during_an_outage_are_not_loss():
    cfg = LinkConfig(window_s=10.0, probe_timeout_s=0.5, down_after_s=1.0, recover_s=1.0)
    sim = Sim(cfg)
    sim.lost = lambda seq: seq < 20           # discovery takes 2 s: the first 20 probes vanish
    sim.run(5.0)
    assert sim.est.state == GOOD and sim.history[-1].loss == 0.0
    sim.lost = lambda seq: 50 <= seq < 80     # a 3 s outage
    sim.run(5.0)
    assert sim.history[-1].loss == 0.0
    assert [(p, n) for _, p, n in sim.transitions()] == [(DOWN, GOOD), (GOOD, DOWN), (DOWN, GOOD)]


def test_random_probe_loss_degrades_above_threshold():
    rng = random.Random(1)
    sim = Sim(LinkConfig(degraded_loss=0.2, recover_s=2.0))
    sim.lost = lambda seq: rng.random() < 0.4
    sim.run(8.0)
    snap = sim.history[-1]
    assert snap.state == DEGRADED and "probe loss" in snap.reason
    assert 0.25 < snap.loss < 0.55


def test_low_delivered_throughput_degrades():
    sim = Sim(LinkConfig(min_delivery_ratio=0.5, recover_s=0.5), delivered=0.3)
    snap = sim.run(3.0)
    assert snap.state == DEGRADED
    assert "cloud receives 30% of the video sent" in snap.reason
    sim.delivered = 0.9
    assert sim.run(2.0).state == GOOD


def test_five_percent_probe_loss_does_not_flap_over_a_minute():
    rng = random.Random(7)
    sim = Sim(LinkConfig())
    sim.lost = lambda seq: rng.random() < 0.05
    sim.run(60.0)
    assert [(p, n) for _, p, n in sim.transitions()] == [(DOWN, GOOD)]


def test_improvement_waits_for_the_worst_state_seen_while_recovering():
    cfg = LinkConfig(recover_s=1.0, down_after_s=0.5, degraded_rtt_s=0.3)
    sim = Sim(cfg, rtt=0.5)  # replies flow but slow: DOWN -> DEGRADED, not GOOD
    sim.run(3.0)
    assert sim.est.state == DEGRADED
    assert [(p, n) for _, p, n in sim.transitions()] == [(DOWN, DEGRADED)]


def test_bookkeeping_is_bounded_and_metrics_are_nan_without_data():
    est = LinkEstimator(LinkConfig(window_s=1.0, probe_timeout_s=0.5, max_probes=50))
    assert math.isnan(est.rtt_median()) and math.isnan(est.result_age(0.0))
    assert math.isnan(est.delivered_kbps(0.0))
    for i in range(10000):
        est.probe_sent(i, i * 0.001)
        est.video_sent(1000, i * 0.001)
    assert est.pending_probes() <= 50
    est.update(20.0)
    assert est.pending_probes() == 0 and est.sent_kbps(20.0) == 0.0


@pytest.mark.parametrize("field,value", [("window_s", 0), ("degraded_loss", 1.5), ("recover_s", -1),
                                         ("probe_timeout_s", 9.0), ("clear_fraction", 0.0)])
def test_bad_config_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        LinkEstimator(LinkConfig(**{field: value}))
