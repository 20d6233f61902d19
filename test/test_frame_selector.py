"""FrameSelector: the 2-level (key / useful / skip) frame selection against the last sent frame."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from seg_core.data.scene.sequences import DrivingSequence, render_scene, split_seed
from seg_core.edge.frame_selector import KEY, SKIP, USEFUL, FrameSelector, SelectorConfig, change_score

W, H = 160, 120


@pytest.fixture(scope="module")
def drive():
    seq = DrivingSequence(7, W, H)
    return [seq.frame(i)[0] for i in range(24)]


def test_first_frame_is_key_with_an_infinite_score(drive):
    decision, score = FrameSelector().select(drive[0])
    assert decision == KEY and math.isinf(score)


def test_identical_frames_are_skipped_until_max_skipped_forces_a_send(drive):
    selector = FrameSelector(SelectorConfig(low=1.0, high=30.0, max_skipped=3))
    got = [selector.select(drive[0].copy()) for _ in range(10)]
    assert [d for d, _ in got] == [KEY, SKIP, SKIP, SKIP, USEFUL, SKIP, SKIP, SKIP, USEFUL, SKIP]
    assert all(score == 0.0 for _, score in got[1:])


def test_max_skipped_zero_sends_every_frame(drive):
    selector = FrameSelector(SelectorConfig(low=1.0, high=30.0, max_skipped=0))
    assert [selector.select(drive[0])[0] for _ in range(3)] == [KEY, USEFUL, USEFUL]


def test_a_scene_cut_is_key(drive):
    other, _ = render_scene(split_seed("test", 1), W, H)
    assert change_score(drive[0], other) > 30.0
    selector = FrameSelector(SelectorConfig(low=5.0, high=20.0, max_skipped=10))
    selector.select(drive[0])
    assert selector.select(other)[0] == KEY


def test_a_small_motion_is_useful(drive):
    selector = FrameSelector(SelectorConfig(low=3.0, high=20.0, max_skipped=10))
    selector.select(drive[0])
    decision, score = selector.select(drive[1])
    assert decision == USEFUL and 3.0 < score < 20.0


def test_a_size_change_is_key(drive):
    selector = FrameSelector(SelectorConfig(low=5.0, high=20.0, max_skipped=10))
    selector.select(drive[0])
    decision, score = selector.select(np.ascontiguousarray(drive[0][:, : W // 2]))
    assert decision == KEY and math.isinf(score)


def test_the_reference_moves_only_on_sent_frames(drive):
    selector = FrameSelector(SelectorConfig(low=7.0, high=40.0, max_skipped=100))
    selector.select(drive[0])
    decisions, scores = zip(*(selector.select(rgb) for rgb in drive[1:]))
    first_sent = decisions.index(USEFUL)
    assert first_sent > 0, "the thresholds must skip a few frames first"
    for i in range(first_sent + 1):   # every score up to the first sent frame is against frame 0
        assert scores[i] == pytest.approx(change_score(drive[0], drive[i + 1]))
    after = drive[first_sent + 1]
    assert scores[first_sent + 1] == pytest.approx(change_score(after, drive[first_sent + 2]))


@pytest.mark.parametrize("kwargs, message", [
    ({"low": -1.0, "high": 5.0}, "0 <= low <= high"),
    ({"low": 6.0, "high": 5.0}, "0 <= low <= high"),
    ({"low": math.nan, "high": 5.0}, "low must be a finite number"),
    ({"low": 1.0, "high": math.inf}, "high must be a finite number"),
    ({"low": 1.0, "high": 5.0, "max_skipped": -1}, "max_skipped must be an integer >= 0"),
    ({"low": 1.0, "high": 5.0, "max_skipped": 1.5}, "max_skipped must be an integer >= 0"),
])
def test_thresholds_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameSelector(SelectorConfig(**kwargs))


def test_set_thresholds_validates_and_keeps_the_old_ones_on_error(drive):
    selector = FrameSelector(SelectorConfig(low=1.0, high=30.0, max_skipped=5))
    with pytest.raises(ValueError, match="0 <= low <= high"):
        selector.set_thresholds(10.0, 2.0)
    assert (selector.config.low, selector.config.high) == (1.0, 30.0)
    selector.set_thresholds(0.0, 0.0)
    selector.select(drive[0])
    assert selector.select(drive[1])[0] == KEY   # any change is now above high


def test_frames_smaller_than_the_thumbnail_are_refused():
    with pytest.raises(ValueError, match="at least 16 x 16"):
        FrameSelector().select(np.zeros((8, 64, 3), np.uint8))


def test_on_the_drive_some_frames_are_skipped_and_every_key_frame_is_sent(drive):
    config = SelectorConfig(low=6.0, high=9.0, max_skipped=2)
    selector = FrameSelector(config)
    got = [selector.select(rgb) for rgb in drive]
    decisions = [d for d, _ in got]
    assert decisions.count(SKIP) > 0 and decisions.count(USEFUL) > 0 and decisions[1:].count(KEY) > 0
    assert [d for d, s in got if s > config.high] == [KEY] * sum(s > config.high for _, s in got)
    assert all(d != SKIP for d, s in got if s > config.low)
    run = 0
    for d in decisions:   # never more than max_skipped skipped frames in a row
        run = run + 1 if d == SKIP else 0
        assert run <= config.max_skipped


def test_the_defaults_are_the_measured_choice():
    report = json.loads((Path(__file__).resolve().parents[1] / "docs" / "frame_selector.json").read_text())
    defaults = SelectorConfig()
    assert report["chosen"] == {"low": defaults.low, "high": defaults.high, "max_skipped": defaults.max_skipped}
