"""The demo's scenario in short: the cloud serving, the link cut, the link back; and its pictures."""
from __future__ import annotations

import av
import cv2
import pytest

from support import DomainLease

from seg_bringup.demo import (  # noqa: E402
    DEMO_DEFAULTS, Phase, load_scenario, run_scenario, shipped_scenario, story,
)
from seg_bringup.runner import parse_overrides  # noqa: E402

W, H = 320, 240
SMALL = [f"camera.width={W}", f"camera.height={H}",
         f"segmentation.input_width={W}", f"segmentation.input_height={H}",
         f"edge_segmentation.input_width={W}", f"edge_segmentation.input_height={H}",
         # a generous deadline: both sides share this host's two cores with the tests, so a
         # busy cloud still counts as on time and hands back once the link is back
         "segmentation_arbiter.deadline_s=1.0", "segmentation_arbiter.max_wait_s=2.0",
         "segmentation_arbiter.handback_s=2.0"]


@pytest.fixture(scope="module")
def demo(ros_domain, tmp_path_factory):
    cloud = DomainLease()
    out = tmp_path_factory.mktemp("demo")
    phases = [Phase("cloud serving", 4, "up"), Phase("link cut", 3, "cut"), Phase("link back", 12, "up")]
    try:
        summary = run_scenario(phases, out, parse_overrides(DEMO_DEFAULTS + SMALL),
                               (ros_domain.domain, cloud.domain), startup_timeout=150)
    finally:
        cloud.release()
    return summary


def test_the_edge_takes_over_during_the_cut_and_hands_back(demo):
    serving, cut, back = demo["scenario"]
    assert serving["frames_by_source"]["cloud"] > 0
    assert cut["frames_by_source"]["edge"] > 0 and cut["edge_active_after_s"] is not None
    assert cut["longest_silence_s"] < 1.0
    assert back["handback_s"] is not None, demo["scenario"]
    assert back["frames_by_source"]["cloud"] > 0
    lines = story(demo)
    assert 3 <= len(lines) <= 6 and "link cut" in lines[1]


def test_the_pictures_are_made(demo):
    files = demo["files"]
    timeline = cv2.imread(files["timeline_png"])
    assert timeline.shape == (800, 1100, 3)
    strip = cv2.imread(files["strip_png"])
    assert strip.shape[1] == 3 * W and strip.shape[0] % (H + 28) == 0
    with av.open(files["overlay_mp4"]) as video:
        frames = sum(1 for _ in video.decode(video=0))
    assert frames == demo["frames_out"]
    assert all(stage["median_ms"] >= 0 for stage in demo["stage_latency"].values() if stage["n"])


def test_scenario_files_are_checked(tmp_path):
    bad = tmp_path / "bad.yaml"
    for text, message in [("phases: []", "has no phases"),
                          ("phases: [{name: a, seconds: -1, link: up}]", "seconds must be > 0"),
                          ("phases: [{name: a, seconds: 1, link: slow}]", "link must be up, cut or a cap"),
                          ("phases: [{name: a, secs: 1}]", "expected name, seconds and link")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_scenario(bad)
    with pytest.raises(ValueError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.yaml")
    assert "cut" in [phase.link for phase in load_scenario(shipped_scenario())]
