import numpy as np
import pytest

from seg_core.data.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_ID, NUM_CLASSES, colorize, overlay


def test_nineteen_cityscapes_classes_with_distinct_colours():
    assert NUM_CLASSES == 19 == len(CITYSCAPES_PALETTE)
    assert CITYSCAPES_CLASSES[0] == "road" and CITYSCAPES_CLASSES[13] == "car"
    assert len({tuple(c) for c in CITYSCAPES_PALETTE}) == 19


def test_colorize_maps_ids_to_palette_and_ignore_to_black():
    labels = np.array([[0, 13], [IGNORE_ID, 18]], np.uint8)
    rgb = colorize(labels)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 0]) == (128, 64, 128) and tuple(rgb[0, 1]) == (0, 0, 142)
    assert tuple(rgb[1, 0]) == (0, 0, 0) and tuple(rgb[1, 1]) == (119, 11, 32)


def test_colorize_rejects_wrong_arrays():
    with pytest.raises(ValueError, match="2-D uint8"):
        colorize(np.zeros((2, 2), np.int64))


def test_overlay_blends_and_keeps_unlabeled_pixels():
    rgb = np.full((2, 2, 3), 200, np.uint8)
    labels = np.array([[0, IGNORE_ID], [13, 13]], np.uint8)
    out = overlay(rgb, labels, alpha=0.5)
    assert tuple(out[0, 0]) == (164, 132, 164)
    assert tuple(out[0, 1]) == (200, 200, 200)
    assert np.array_equal(overlay(rgb, labels, alpha=0.0), rgb)
    with pytest.raises(ValueError, match="alpha"):
        overlay(rgb, labels, alpha=1.5)
    with pytest.raises(ValueError, match="differ in size"):
        overlay(rgb, labels[:1], alpha=0.5)
