import numpy as np
import pytest

from seg_core.data.sources import SourceConfig, open_source


@pytest.mark.parametrize("kwargs,message", [
    ({"kind": "webcam"}, "not one of"),
    ({"width": 8}, "within 16..8192"),
    ({"width": 641}, "must be even"),
    ({"rate": 0.0}, "rate"),
    ({"kind": "video", "uri": ""}, "needs a uri"),
])
def test_bad_source_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SourceConfig(**kwargs).validate()


def test_missing_folder_and_video_say_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_source(SourceConfig(kind="folder", uri=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="has no"):
        open_source(SourceConfig(kind="folder", uri=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_source(SourceConfig(kind="video", uri=str(tmp_path / "x.mp4")))


def test_folder_source_resizes_converts_and_loops(tmp_path):
    cv2 = pytest.importorskip("cv2")
    bgr = np.zeros((100, 200, 3), np.uint8)
    bgr[:, :, 2] = 255  # red in BGR
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    src = open_source(SourceConfig(kind="folder", uri=str(tmp_path), width=64, height=32, loop=True))
    frames = [src.read() for _ in range(3)]
    assert all(f.rgb.shape == (32, 64, 3) and f.labels is None for f in frames)
    assert tuple(frames[2].rgb[0, 0]) == (255, 0, 0)
    once = open_source(SourceConfig(kind="folder", uri=str(tmp_path), width=64, height=32, loop=False))
    assert once.read() is not None and once.read() is None


def test_generated_source_has_ground_truth():
    src = open_source(SourceConfig(kind="generated", width=160, height=120, seed=3))
    frame = src.read()
    assert frame.rgb.shape == (120, 160, 3) and frame.labels.shape == (120, 160)
    assert frame.labels.dtype == np.uint8
