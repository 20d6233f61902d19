"""The edge's adaptation to the link: the rung ladder and the controller, on simulated links."""
import math

import pytest

from seg_core.edge.adaptation import SHIPPED_LADDER, AdaptationConfig, AdaptationController, Rung, load_ladder, pareto

LADDER = [
    Rung("r0", 1.0, 1_500_000, 30.0, 1500.0, 0.42),
    Rung("r1", 1.0, 800_000, 30.0, 800.0, 0.41),
    Rung("r2", 0.5, 400_000, 30.0, 400.0, 0.39),
    Rung("r3", 0.25, 160_000, 30.0, 160.0, 0.35),
    Rung("r4", 0.25, 60_000, 15.0, 60.0, 0.28),
]
DT = 0.1
BASE_RTT = 0.05


def simulate(controller, schedule, t=0.0, probe=0.0, video_share=1.0):
    """Drive ``controller`` over ``schedule`` [(seconds, cap kbit/s or inf), ...] on a link that
    delivers min(sent, cap) and whose RTT and result latency grow with the excess sent. Returns
    [(t, cap, decision)] and the time and probe target to continue from. The video sends
    ``video_share`` of its rung's kbit/s; padding tops it up to a probe's target."""
    trace = []
    for duration, cap in schedule:
        end = t + duration
        while t < end - 1e-9:
            t = round(t + DT, 6)
            sent = max(video_share * controller.ladder[controller.rung].kbps, probe)
            queue = max(0.0, sent - cap) / cap
            d = controller.update(t, sent, min(sent, cap), BASE_RTT + 0.2 * queue, 0.0, 0.15 + 0.2 * queue)
            probe = d.probe_target_kbps
            trace.append((t, cap, d))
    return trace, t, probe


def changes(trace):
    return [(t, d) for t, _, d in trace if d.changed]


def fits(rung, cap, config=AdaptationConfig()):
    return rung.kbps * (1 + config.headroom) <= cap


def test_cap_schedule_down_fast_up_by_probing():
    c = AdaptationController(LADDER)
    trace, t, probe = simulate(c, [(5.0, math.inf)])
    assert trace[-1][2].rung == 0 and not trace[-1][2].use_edge and not changes(trace)
    for cap, rung, edge in ((600.0, 2, False), (200.0, 3, False), (20.0, 4, True)):
        start = t
        trace, t, probe = simulate(c, [(10.0, cap)], t, probe)
        moved = changes(trace)
        assert len(moved) == 1, [d.reason for _, d in moved]  # skips rungs at once, then stays
        when, d = moved[0]
        assert when - start <= 1.0
        assert (d.rung, d.use_edge) == (rung, edge)
        assert "down to" in d.reason and "kbit/s" in d.reason
        assert edge or fits(LADDER[d.rung], cap)
        assert edge == (not fits(LADDER[-1], cap))
    start = t
    trace, t, probe = simulate(c, [(10.0, math.inf)], t, probe)
    top = next(when for when, _, d in trace if d.rung == 0 and not d.use_edge)
    assert top - start <= 10.0
    ups = changes(trace)
    assert [(d.rung, d.use_edge) for _, d in ups] == [(4, False), (3, False), (2, False), (1, False), (0, False)]
    assert all("probe held" in d.reason for _, d in ups)


def test_shipped_ladder_adapts_in_time():
    ladder = load_ladder(SHIPPED_LADDER)
    assert 4 <= len(ladder) <= 6
    c = AdaptationController(ladder)
    trace, t, probe = simulate(c, [(5.0, 0.5 * ladder[-1].kbps)])
    assert c.use_edge and changes(trace)[0][0] <= 1.0
    trace, _, _ = simulate(c, [(10.0, math.inf)], t, probe)
    assert (trace[-1][2].rung, trace[-1][2].use_edge) == (0, False)


@pytest.mark.parametrize("cap", [600.0, 200.0, 40.0])
def test_steady_cap_no_rung_changes_in_60s(cap):
    c = AdaptationController(LADDER)
    simulate(c, [(3.0, cap)])  # settles on the rung that fits
    settled = (c.rung, c.use_edge)
    trace, _, _ = simulate(c, [(60.0, cap)], 3.0)
    assert not changes(trace)
    assert (c.rung, c.use_edge) == settled
    probes = [d for _, _, d in trace if d.probe_target_kbps > 0]
    failed = [d for _, _, d in trace if "failed" in d.reason]
    if settled != (4, True):  # under the lowest rung the link is never calm enough to probe
        assert probes and failed
        assert len(probes) < 0.1 * len(trace)  # probes are short and back off


def test_use_edge_cleared_once_the_lowest_rung_fits():
    c = AdaptationController(LADDER)
    trace, t, probe = simulate(c, [(5.0, 20.0)])
    assert c.use_edge and c.rung == 4
    trace, t, probe = simulate(c, [(20.0, 100.0)], t, probe)  # the lowest rung fits, r3 does not
    moved = changes(trace)
    assert [(d.rung, d.use_edge) for _, d in moved] == [(4, False)]
    assert moved[0][0] - 5.0 <= 3.0


def test_congestion_without_delivery_reports_steps_down_one_rung():
    c = AdaptationController(LADDER)
    for k in range(10):
        c.update(0.1 * k, 1500.0, math.nan, BASE_RTT, 0.0, math.nan)
    decisions = [c.update(1.0 + 0.1 * k, 1500.0, math.nan, BASE_RTT + 0.3, 0.0, math.nan) for k in range(8)]
    moved = [d for d in decisions if d.changed]
    assert len(moved) == 1 and moved[0].rung == 1
    assert "RTT 350 ms > 50 + 100 ms" in moved[0].reason


def test_a_silent_link_stays_trouble_past_the_baseline_window():
    c = AdaptationController(LADDER)
    for k in range(10):
        c.update(0.1 * k, 1500.0, 1500.0, BASE_RTT, 0.0, math.nan)
    end = 1.0 + 3 * c.config.baseline_window_s
    decisions = [c.update(1.0 + 0.1 * k, 60.0, math.nan, math.nan, 0.0, math.nan)   # no reply, no report
                 for k in range(int((end - 1.0) / 0.1))]
    assert (c.rung, c.use_edge) == (len(LADDER) - 1, True)
    assert all(d.probe_target_kbps == 0 for d in decisions), "probed for a higher rung on a silent link"
    assert "no recent probe reply" in decisions[-1].reason


def test_probe_pads_to_the_next_rung_with_headroom():
    c = AdaptationController(LADDER)
    trace, t, probe = simulate(c, [(3.0, 600.0)])
    trace, _, _ = simulate(c, [(3.0, math.inf)], t, probe)
    first = next(d for _, _, d in trace if d.probe_target_kbps > 0)
    assert first.probe_target_kbps == pytest.approx(800.0 * 1.15)
    assert "probing for r1 (800 kbit/s): 920 kbit/s" in first.reason


def test_probe_tops_up_a_video_that_sends_less_than_its_rung():
    ladder = load_ladder(SHIPPED_LADDER)
    cap = 0.5 * (ladder[1].kbps * (1 + AdaptationConfig().headroom) + ladder[2].kbps)  # rung 2 fits, rung 1 not
    c = AdaptationController(ladder)
    simulate(c, [(3.0, cap)], video_share=0.55)
    assert (c.rung, c.use_edge) == (2, False)
    trace, _, _ = simulate(c, [(60.0, cap)], 3.0, video_share=0.55)
    assert not changes(trace), [d.reason for _, d in changes(trace)]
    assert any("failed" in d.reason for _, _, d in trace)


def test_a_step_up_that_does_not_hold_backs_off_like_a_failed_probe():
    c = AdaptationController(LADDER)
    t, calm = 0.0, c.config.stable_s
    def run(seconds, delivered):
        nonlocal t
        out = []
        for _ in range(int(round(seconds / DT))):
            t = round(t + DT, 6)
            sent = max(c.ladder[c.rung].kbps, out[-1].probe_target_kbps if out else 0.0)
            out.append(c.update(t, sent, min(sent, delivered), BASE_RTT, 0.0, math.nan))
        return out
    run(1.0, 1000.0)                                        # r0 does not fit: down to r1
    assert c.rung == 1
    for _ in range(3):
        up = [d for d in run(calm + c.config.probe_s + 0.3, math.inf) if d.changed]   # the probe holds
        assert [d.rung for d in up] == [0] and "probe held" in up[0].reason
        down = [d for d in run(1.0, 1000.0) if d.changed]    # and the rung does not
        assert [d.rung for d in down] == [1] and "did not hold" in down[0].reason
        calm = min(2 * calm, c.config.max_stable_s)
        assert f"of {calm:.1f} s before probing" in run(0.2, math.inf)[-1].reason
    run(calm + c.config.probe_s + 0.3, math.inf)
    assert c.rung == 0
    run(c.config.confirm_s + 0.2, math.inf)                 # a step up that holds is confirmed
    down = [d for d in run(1.0, 1000.0) if d.changed]
    assert [d.rung for d in down] == [1] and "did not hold" not in down[0].reason
    assert f"of {c.config.stable_s:.1f} s before probing" in run(0.2, math.inf)[-1].reason


def test_pareto_keeps_the_front_best_first():
    worse = Rung("worse", 1.0, 900_000, 30.0, 900.0, 0.40)
    same_cost = Rung("same_cost", 0.5, 400_000, 15.0, 400.0, 0.30)
    assert pareto([LADDER[3], worse, *LADDER[:3], same_cost, LADDER[4]]) == LADDER


def write(tmp_path, text):
    path = tmp_path / "ladder.yaml"
    path.write_text(text)
    return path


RUNG = "{{name: {}, scale: 0.5, bitrate: 400000, fps: 30.0, kbps: {}, miou: {}}}"


def test_load_ladder_sorts_best_first(tmp_path):
    path = write(tmp_path, "rungs:\n" + "".join(f"  - {RUNG.format(n, k, m)}\n"
                                                  for n, k, m in (("b", 100, 0.3), ("a", 500.5, 0.4))))
    assert [(r.name, r.kbps, r.bitrate) for r in load_ladder(path)] == [("a", 500.5, 400000), ("b", 100.0, 400000)]


@pytest.mark.parametrize("text, message", [
    ("rungs: []\n", "at least one rung"),
    ("{}\n", "at least one rung"),
    (f"rungs: [{RUNG.format('a', 500, 0.3)}, {RUNG.format('b', 100, 0.35)}]\n",
     "not Pareto-optimal: a (500 kbit/s, mIoU 0.3) is no better than b (100 kbit/s, mIoU 0.35)"),
    (f"rungs: [{RUNG.format('a', 500, 0.3)}, {RUNG.format('a', 100, 0.2)}]\n", "unique, repeated: a"),
    (f"rungs: [{RUNG.format('a', 0, 0.3)}]\n", "rung a: kbps must be > 0"),
    (f"rungs: [{RUNG.format('a', 100, 1.5)}]\n", "rung a: miou must be within [0, 1]"),
    ("rungs: [{name: a, scale: 2, bitrate: 400000, fps: 30, kbps: 100, miou: 0.3}]\n", "rung a: scale"),
    ("rungs: [{name: a, scale: 1, bitrate: 4.5e5, fps: 30, kbps: 100, miou: 0.3}]\n", "bitrate must be a positive"),
    ("rungs: [{name: a, scale: 1, bitrate: 400000, fps: 0, kbps: 100, miou: 0.3}]\n", "rung a: fps must be > 0"),
    ("rungs: [{name: a, scale: 1, bitrate: 400000, fps: 30, kbps: 100}]\n", "rung 0 must have exactly the keys"),
])
def test_load_ladder_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match="^.*" + message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_ladder(write(tmp_path, text))


def test_controller_wants_a_pareto_ladder_best_first():
    with pytest.raises(ValueError, match="Pareto-optimal and best first"):
        AdaptationController(LADDER[::-1])
    with pytest.raises(ValueError, match="at least one rung"):
        AdaptationController([])


@pytest.mark.parametrize("field, value, message", [
    ("trouble_s", 1.0, "within 1 s"),
    ("probe_s", 0.0, "probe_s must be > 0"),
    ("tolerance", 1.0, "tolerance must be within"),
    ("headroom", -0.1, "headroom must be >= 0"),
    ("max_loss", 0.0, "max_loss must be within"),
    ("max_stable_s", 0.5, "max_stable_s 0.5 must be >= stable_s 0.6"),
    ("confirm_s", 0.0, "confirm_s must be > 0"),
])
def test_config_validation(field, value, message):
    config = AdaptationConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        config.validate()
    with pytest.raises(ValueError, match=message):
        AdaptationController(LADDER, config)


def test_a_slow_cloud_is_not_congestion_and_congestion_without_a_shortfall_costs_one_rung():
    c = AdaptationController(LADDER)
    t = 0.0
    for _ in range(50):                      # 5 s of a cloud whose results come 0.15 .. 1.5 s late
        t += DT
        d = c.update(t, 1400.0, 1400.0, BASE_RTT, 0.0, 0.15 if t < 2 else 1.5)
    assert (d.rung, d.use_edge) == (0, False)
    steps = []
    for _ in range(7):                       # RTT up 0.2 s while everything sent arrives
        t += DT
        steps.append(c.update(t, 1400.0, 1400.0, BASE_RTT + 0.2, 0.0, 0.15))
    (step,) = [d for d in steps if d.changed]
    assert (step.rung, step.use_edge) == (1, False) and "down to r1" in step.reason
