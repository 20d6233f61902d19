"""Tests for the H.264 codec: round trip, latency, keyframes, rate control and loss recovery."""
import logging

import numpy as np
import pytest

from seg_core.codec import (
    DecodeError,
    EncoderConfig,
    H264Decoder,
    H264Encoder,
    _nal_units,
    _ParameterSets,
    resize_rgb,
    round_trip,
)
from seg_core.training.metrics import psnr

WIDTH, HEIGHT, FPS, GOP = 640, 480, 30, 10
NAL_IDR, NAL_SPS, NAL_PPS = 5, 7, 8


def pattern(i: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Scrolling colour gradients with a moving box and a moving disc."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [(x + 4 * i) % 256, (y + 2 * i) % 256, ((x + y) // 4 + 3 * i) % 256], axis=-1
    ).astype(np.uint8)
    left = (40 + 9 * i) % (width - 100)
    rgb[height // 4:height // 4 + 100, left:left + 100] = (230, 40, 40)
    cx, cy = (width - 60 - 7 * i) % width, height * 2 // 3
    rgb[(x - cx) ** 2 + (y - cy) ** 2 < 50 ** 2] = (20, 200, 60)
    return rgb


def nal_types(data: bytes) -> list[int]:
    return [kind for kind, _ in _nal_units(data)]


@pytest.fixture(scope="module")
def frames():
    return [pattern(i) for i in range(40)]


@pytest.fixture(scope="module")
def stream(frames):
    encoder = H264Encoder(WIDTH, HEIGHT, EncoderConfig(gop=GOP, fps=FPS))
    return [encoder.encode(rgb) for rgb in frames]


def test_round_trip_quality_and_zero_latency(frames, stream):
    decoder = H264Decoder()
    assert decoder.waiting_for_keyframe
    for i, (rgb, packet) in enumerate(zip(frames, stream)):
        assert (packet.pts, packet.width, packet.height) == (i, WIDTH, HEIGHT)
        out = decoder.decode(packet.data, packet.keyframe, packet.pts)
        assert out.shape == (HEIGHT, WIDTH, 3) and out.dtype == np.uint8
        assert psnr(out, rgb) > 30.0
    assert not decoder.waiting_for_keyframe


def test_round_trip_forces_the_keyframes_asked_for(frames):
    config = EncoderConfig(gop=100, fps=FPS)
    plain = [size for _, size in round_trip(frames[:6], config)]
    forced = list(round_trip(frames[:6], config, keyframes=[False, False, False, True, False, False]))
    assert [size for _, size in forced[:3]] == plain[:3]
    assert forced[3][1] > 2 * plain[3]   # an IDR costs far more than the P frame it replaces
    assert psnr(forced[5][0], frames[5]) > 30.0


def test_keyframe_cadence_and_in_band_parameter_sets(stream):
    assert [p.pts for p in stream if p.keyframe] == [0, 10, 20, 30]
    for packet in stream:
        kinds = nal_types(packet.data)
        if packet.keyframe:
            assert kinds[:2] == [NAL_SPS, NAL_PPS] and NAL_IDR in kinds
        else:
            assert not {NAL_SPS, NAL_PPS, NAL_IDR} & set(kinds)


def test_force_and_request_keyframe(frames):
    encoder = H264Encoder(WIDTH, HEIGHT, EncoderConfig(gop=100))
    keyframes = []
    for i, rgb in enumerate(frames[:12]):
        if i == 8:
            encoder.request_keyframe()
        keyframes.append(encoder.encode(rgb, force_keyframe=i == 4).keyframe)
    assert [i for i, key in enumerate(keyframes) if key] == [0, 4, 8]


@pytest.mark.parametrize("profile, profile_idc", [("baseline", 66), ("main", 77), ("high", 100)])
def test_profile_caps_the_stream(frames, profile, profile_idc):
    encoder = H264Encoder(WIDTH, HEIGHT, EncoderConfig(profile=profile, preset="medium"))
    sps = _nal_units(encoder.encode(frames[0]).data)[0][1]
    assert sps[sps.index(b"\x01") + 2] == profile_idc


def test_bitrate_mode_tracks_target(frames):
    seconds = 60 / FPS
    rates = {}
    for target in (250_000, 1_000_000):
        encoder = H264Encoder(WIDTH, HEIGHT, EncoderConfig(bitrate=target, gop=30, fps=FPS))
        total = sum(len(encoder.encode(frames[i % len(frames)]).data) for i in range(60))
        rates[target] = total * 8 / seconds
        assert 0.5 * target < rates[target] < 1.6 * target
    assert rates[250_000] < rates[1_000_000]


def test_late_joiner_waits_for_next_keyframe(frames, stream):
    decoder = H264Decoder()
    for packet in stream[4:10]:
        with pytest.raises(DecodeError, match="waiting for a keyframe"):
            decoder.decode(packet.data, packet.keyframe, packet.pts)
        assert decoder.waiting_for_keyframe
    out = decoder.decode(stream[10].data, stream[10].keyframe, stream[10].pts)
    assert not decoder.waiting_for_keyframe
    assert psnr(out, frames[10]) > 30.0


def _assert_recovers(decoder, frames, stream, start):
    """Non-keyframes after a failure are dropped; the next keyframe decodes cleanly."""
    for packet in stream[start:]:
        if packet.keyframe:
            out = decoder.decode(packet.data, packet.keyframe, packet.pts)
            assert not decoder.waiting_for_keyframe
            assert psnr(out, frames[packet.pts]) > 30.0
            return
        with pytest.raises(DecodeError, match="waiting for a keyframe"):
            decoder.decode(packet.data, packet.keyframe, packet.pts)
        assert decoder.waiting_for_keyframe
    pytest.fail("no keyframe after the failure")


def test_lost_packet_is_detected_by_pts_gap(frames, stream):
    decoder = H264Decoder()
    for packet in stream[:13]:
        decoder.decode(packet.data, packet.keyframe, packet.pts)
    with pytest.raises(DecodeError, match="lost"):
        decoder.decode(stream[14].data, stream[14].keyframe, stream[14].pts)
    assert decoder.waiting_for_keyframe
    _assert_recovers(decoder, frames, stream, 15)


def _flip_bytes(data: bytes) -> bytes:
    corrupt = bytearray(data)
    rng = np.random.default_rng(7)
    for index in rng.integers(8, len(corrupt), 20):
        corrupt[index] ^= int(rng.integers(1, 256))
    return bytes(corrupt)


@pytest.mark.parametrize(
    "index, damage",
    [
        (13, _flip_bytes),
        (13, lambda data: data[: len(data) // 2]),
        (13, lambda data: np.random.default_rng(3).bytes(len(data))),
        (13, lambda data: b""),
        (20, lambda data: data[: len(data) // 2]),  # a truncated keyframe
    ],
    ids=["flipped", "truncated", "garbage", "empty", "truncated-keyframe"],
)
def test_corrupt_packet_raises_then_recovers(frames, stream, index, damage):
    decoder = H264Decoder()
    for packet in stream[:index]:
        decoder.decode(packet.data, packet.keyframe, packet.pts)
    bad = stream[index]
    with pytest.raises(DecodeError):
        decoder.decode(damage(bad.data), bad.keyframe, bad.pts)
    assert decoder.waiting_for_keyframe
    _assert_recovers(decoder, frames, stream, index + 1)


@pytest.mark.parametrize("seed", [374, 1095, 1602])
def test_failed_packet_does_not_spoil_next_keyframe(frames, stream, seed):
    """Damage whose libavcodec state survives flush_buffers() and spoils the next keyframe."""
    rng = np.random.default_rng(seed)
    index = int(rng.integers(11, 20))
    damaged = bytearray(stream[index].data)
    for position in rng.integers(0, len(damaged), 3):
        damaged[position] ^= int(rng.integers(1, 256))
    decoder = H264Decoder()
    for packet in stream[10:index]:
        decoder.decode(packet.data, packet.keyframe, packet.pts)
    with pytest.raises(DecodeError):
        decoder.decode(bytes(damaged), False, index)
    _assert_recovers(decoder, frames, stream, index + 1)


@pytest.mark.parametrize(
    "rgb",
    [
        np.zeros((HEIGHT, WIDTH), np.uint8),
        np.zeros((HEIGHT, WIDTH, 4), np.uint8),
        np.zeros((HEIGHT, WIDTH, 3), np.float32),
        np.zeros((HEIGHT // 2, WIDTH // 2, 3), np.uint8),
        [[0, 0, 0]],
    ],
    ids=["gray", "rgba", "float", "small", "list"],
)
def test_encode_rejects_wrong_input(rgb):
    encoder = H264Encoder(WIDTH, HEIGHT)
    with pytest.raises(ValueError, match=r"uint8 array of shape \(480, 640, 3\)"):
        encoder.encode(rgb)


def test_encode_accepts_non_contiguous_view(frames):
    encoder = H264Encoder(WIDTH, HEIGHT)
    bgr = frames[0][..., ::-1]
    assert encoder.encode(bgr[..., ::-1]).keyframe


@pytest.mark.parametrize(
    "changes",
    [
        {"codec": "mpeg4"},
        {"bitrate": -1},
        {"bitrate": 1.5e6},
        {"crf": 52},
        {"crf": -1},
        {"gop": 0},
        {"gop": 2.5},
        {"preset": "warp"},
        {"tune": "realtime"},
        {"profile": "high444"},
        {"fps": 0},
        {"bitrate": 0, "codec": "h264_v4l2m2m"},
    ],
)
def test_invalid_config_raises(changes):
    config = EncoderConfig(**changes)
    with pytest.raises(ValueError, match=next(iter(changes))):
        config.validate()
    with pytest.raises(ValueError):
        H264Encoder(WIDTH, HEIGHT, config)


@pytest.mark.parametrize("size", [(641, 480), (640, 0), (640.0, 480)])
def test_encoder_rejects_bad_size(size):
    with pytest.raises(ValueError, match="even"):
        H264Encoder(*size)


@pytest.mark.parametrize(
    "config",
    [EncoderConfig(codec="h264_nvenc"), EncoderConfig(codec="h264_v4l2m2m", bitrate=1_000_000)],
    ids=["nvenc", "v4l2m2m"],
)
def test_unavailable_hardware_encoder_falls_back_to_libx264(config, frames, caplog):
    with caplog.at_level(logging.WARNING, logger="seg_core.codec"):
        encoder = H264Encoder(WIDTH, HEIGHT, config)
    if encoder.codec_name == config.codec:
        pytest.skip(f"{config.codec} is available on this machine")
    assert encoder.codec_name == "libx264"
    assert "falling back to libx264" in caplog.text
    assert encoder.encode(frames[0]).keyframe


def test_missing_parameter_sets_are_prepended(stream):
    headers = _ParameterSets()
    assert headers.apply(stream[0].data) == stream[0].data
    bare = b"".join(unit for kind, unit in _nal_units(stream[10].data)
                    if kind not in (NAL_SPS, NAL_PPS))
    fixed = headers.apply(bare)
    assert nal_types(fixed)[:2] == [NAL_SPS, NAL_PPS]
    assert H264Decoder().decode(fixed, True, 10).shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(RuntimeError, match="SPS/PPS"):
        _ParameterSets().apply(bare)


def test_resize_rgb():
    rgb = pattern(0)
    small = resize_rgb(rgb, 320, 240)
    assert small.shape == (240, 320, 3) and small.dtype == np.uint8
    assert resize_rgb(rgb, WIDTH, HEIGHT) is rgb
    flat = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    assert np.array_equal(resize_rgb(flat, 160, 120), np.full((120, 160, 3), 90, np.uint8))
    assert resize_rgb(small, 800, 600).shape == (600, 800, 3)
    with pytest.raises(ValueError):
        resize_rgb(rgb, 0, 240)
    with pytest.raises(ValueError):
        resize_rgb(rgb.astype(np.float32), 320, 240)


def test_a_thousand_damaged_packets_never_escape_as_anything_but_decode_errors(frames, stream):
    """Random bytes, truncated and bit-flipped packets of a real stream, claimed as keyframes or not,
    in any order: each either decodes or raises DecodeError, and the next real keyframe decodes."""
    rng = np.random.default_rng(7)
    decoder = H264Decoder()
    outcomes = {"decoded": 0, "refused": 0}
    for i in range(1000):
        source = stream[int(rng.integers(len(stream)))].data
        kind = i % 3
        if kind == 0:
            data = rng.integers(0, 256, int(rng.integers(0, 4000)), np.uint8).tobytes()
        elif kind == 1:
            data = source[:int(rng.integers(0, len(source)))]
        else:
            damaged = bytearray(source)
            for bit in rng.integers(0, 8 * len(damaged), int(rng.integers(1, 20))):
                damaged[bit // 8] ^= 1 << (bit % 8)
            data = bytes(damaged)
        try:
            out = decoder.decode(data, keyframe=bool(rng.integers(2)), pts=int(rng.integers(0, 100)))
        except DecodeError:
            outcomes["refused"] += 1
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
            outcomes["decoded"] += 1
    assert outcomes["refused"] > 900
    first_key = next(i for i, p in enumerate(stream) if p.keyframe and i > 0)
    for rgb, packet in zip(frames[first_key:first_key + 5], stream[first_key:first_key + 5]):
        assert psnr(decoder.decode(packet.data, packet.keyframe, packet.pts), rgb) > 30
