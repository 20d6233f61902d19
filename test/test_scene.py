import numpy as np
import pytest

from seg_core.data.classes import BICYCLE, CITYSCAPES_CLASSES, FENCE, MOTORCYCLE, NUM_CLASSES, VEGETATION
from seg_core.data.scene import sequences as scene
from seg_core.data.scene import sprites
from seg_core.data.scene.sequences import SPLIT_SEED_BASE, SPLIT_SIZE, DrivingSequence, render_scene, split_seed


def test_render_scene_is_deterministic_and_well_formed():
    rgb, labels = render_scene(123, 160, 96)
    assert rgb.shape == (96, 160, 3) and rgb.dtype == np.uint8
    assert labels.shape == (96, 160) and labels.dtype == np.uint8
    again = render_scene(123, 160, 96)
    assert np.array_equal(rgb, again[0]) and np.array_equal(labels, again[1])
    other = render_scene(124, 160, 96)
    assert not np.array_equal(labels, other[1])


def test_every_class_appears_across_val_scenes():
    seen = np.zeros(256, bool)
    for i in range(12):
        rgb, labels = render_scene(split_seed("val", i), 256, 128)
        counts = np.bincount(labels.ravel(), minlength=256)
        assert counts[NUM_CLASSES:].sum() == 0, "labels must be train ids without ignore regions"
        seen |= counts > 0
    missing = {CITYSCAPES_CLASSES[k] for k in range(NUM_CLASSES) if not seen[k]}
    assert missing <= {"train", "motorcycle"}, missing


def test_split_seeds_are_disjoint():
    ranges = [range(split_seed(s, 0), split_seed(s, SPLIT_SIZE - 1) + 1) for s in SPLIT_SEED_BASE]
    for a in range(len(ranges)):
        for b in range(a + 1, len(ranges)):
            assert set(ranges[a][:1000]).isdisjoint(ranges[b]) and ranges[a][-1] < ranges[b][0]
    assert split_seed("train", 5) != split_seed("val", 5) != split_seed("test", 5)
    with pytest.raises(ValueError, match="unknown split"):
        split_seed("dev", 0)
    for bad in (-1, SPLIT_SIZE):
        with pytest.raises(ValueError, match="outside"):
            split_seed("val", bad)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="image size"):
        render_scene(0, 8, 96)
    with pytest.raises(ValueError, match="image size"):
        DrivingSequence(0, 160, 100_000)


def test_sequence_frames_are_pure_functions_of_seed_and_index():
    seq = DrivingSequence(7, 160, 120)
    assert len(seq) == 900
    late = seq.frame(611)
    early = seq.frame(3)
    fresh = DrivingSequence(7, 160, 120)          # visit frames in another order
    assert np.array_equal(fresh.frame(3)[0], early[0]) and np.array_equal(fresh.frame(3)[1], early[1])
    assert np.array_equal(fresh.frame(611)[1], late[1])
    assert np.array_equal(seq.frame(3 + len(seq))[0], early[0])     # loops
    rgb, labels = early
    assert rgb.shape == (120, 160, 3) and labels.shape == (120, 160)
    assert labels.max() < NUM_CLASSES


def test_sequence_moves_over_time():
    seq = DrivingSequence(11, 160, 120)
    frames = [seq.frame(i)[1] for i in (0, 1, 15, 60)]
    assert not np.array_equal(frames[0], frames[1])          # consecutive frames differ
    changed = np.mean(frames[0] != frames[3])
    assert 0.02 < changed                                     # two seconds later the view has moved on
    other = DrivingSequence(12, 160, 120).frame(0)[1]
    assert not np.array_equal(frames[0], other)


def test_two_wheelers_and_railings_are_labelled_by_their_whole_outline():
    """Cityscapes labels never have holes: a bicycle's wheels and frame, and a railing's gaps,
    carry the object's label although the background shows through them."""
    rng = np.random.default_rng(0)
    for motor, label in ((False, BICYCLE), (True, MOTORCYCLE)):
        bike = sprites.two_wheeler(rng, motor, 1.8)
        covered, painted = bike.lab == label, bike.alpha > 0
        assert not (painted & ~covered).any()
        assert covered.sum() > (1.5 if not motor else 1.1) * painted.sum()
        rows, cols = bike.lab.shape
        r = int(0.3 * bike.ppm)
        assert covered[rows - r, int(0.25 * bike.ppm) + r]          # inside the rear wheel
    railings = [f for f in (sprites.fence(np.random.default_rng(s), 4.0, 1.5) for s in range(10))
                if f.alpha is not None]
    assert railings
    for fence in railings:
        assert (fence.lab == FENCE).all() and 0.1 < (fence.alpha > 0).mean() < 0.9


def test_tree_trunks_taper_and_are_vegetation():
    trunk = sprites.trunk(np.random.default_rng(3), 3.0)
    covered = trunk.lab == VEGETATION
    assert covered.any() and (trunk.lab[~covered] == sprites.CLEAR).all()
    widths = covered.sum(1)
    assert widths[-2] > 1.3 * widths[len(widths) // 2]                 # flared at the roots


def test_label_statistics_cover_every_class():
    report = scene.label_statistics("val", 2, 128, 64)
    assert f"version {scene.GENERATOR_VERSION}" in report
    assert all(name in report for name in CITYSCAPES_CLASSES)
