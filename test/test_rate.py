"""ByteRate and FrameRateGate: kbit/s over a window, a camera stream thinned to a frame rate."""
import pytest

from seg_core.edge.rate import ByteRate, FrameRateGate


def test_byte_rate_counts_the_window_only():
    rate = ByteRate(1.0)
    for i in range(20):                      # 1250 bytes every 0.1 s = 100 kbit/s
        rate.add(1250, i * 0.1)
    assert rate.kbps(1.9) == pytest.approx(100.0)
    assert rate.kbps(3.0) == 0.0
    with pytest.raises(ValueError, match="window_s must be > 0"):
        ByteRate(0.0)


@pytest.mark.parametrize("fps, every", [(30.0, 1), (15.0, 2), (10.0, 3), (7.5, 4)])
def test_the_gate_thins_a_30_fps_camera(fps, every):
    gate = FrameRateGate(fps)
    stamps = [i / 30.0 + (0.003 if i % 2 else -0.003) for i in range(1, 61)]   # jittered stamps
    passed = [i for i, s in enumerate(stamps) if gate.passes(s)]
    assert passed == list(range(0, 60, every))


def test_the_gate_follows_a_new_rate_and_a_clock_that_went_back():
    gate = FrameRateGate(10.0)
    assert gate.passes(5.0) and not gate.passes(5.05)
    gate.fps = 30.0
    assert gate.passes(5.04)
    assert gate.passes(1.0)                  # a replay restarted: the first frame passes
    with pytest.raises(ValueError, match="fps must be > 0"):
        gate.fps = 0.0
