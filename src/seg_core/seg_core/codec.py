"""Low-latency H.264 encoding and robust decoding of rgb8 frames (PyAV, no ROS).

The encoder emits exactly one Annex B packet per input frame (no B-frames, no
lookahead) and repeats SPS/PPS before every keyframe, so a receiver can start
at any keyframe. The decoder never shows a frame it cannot decode correctly:
after a loss or a corrupt packet it drops frames until the next keyframe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from itertools import repeat
from numbers import Real

import av
import numpy as np
from av.codec.codec import UnknownCodecError
from av.codec.context import Flags
from av.video.frame import PictureType

log = logging.getLogger(__name__)

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)
X264_TUNES = (
    "film", "animation", "grain", "stillimage", "psnr", "ssim", "fastdecode", "zerolatency",
)
H264_PROFILES = ("baseline", "main", "high")
FALLBACK_CODEC = "libx264"

# x264 preset -> closest NVENC preset (p1 fastest .. p7 slowest).
_NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p4",
    "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7",
}

_NAL_SPS, _NAL_PPS = 7, 8
_START_CODE = b"\x00\x00\x01"


@dataclass
class EncoderConfig:
    """H.264 encoder settings.

    bitrate is in bits/s; 0 selects constant quality (crf). preset and tune are
    x264 names; hardware encoders get the closest equivalent and always run in
    their lowest-latency mode. profile is the highest profile the stream may use
    (x264 signals the lowest one its preset's tools need).
    """

    codec: str = "libx264"
    bitrate: int = 0
    crf: float = 23
    gop: int = 30
    preset: str = "ultrafast"
    tune: str | None = "zerolatency"
    profile: str | None = None
    fps: float = 30.0

    def validate(self) -> None:
        """Raise ValueError describing the first invalid setting."""
        if self.codec not in _ENCODER_OPTIONS:
            raise ValueError(f"codec must be one of {sorted(_ENCODER_OPTIONS)}, got {self.codec!r}")
        if not _is_int(self.bitrate) or self.bitrate < 0:
            raise ValueError(f"bitrate must be an integer >= 0 bits/s (0 = use crf), got {self.bitrate!r}")
        if self.bitrate == 0 and self.codec == "h264_v4l2m2m":
            raise ValueError("h264_v4l2m2m has no constant-quality mode: set bitrate > 0")
        if not _is_real(self.crf) or not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be a number within [0, 51], got {self.crf!r}")
        if not _is_int(self.gop) or self.gop < 1:
            raise ValueError(f"gop must be an integer >= 1 frames, got {self.gop!r}")
        if self.preset not in X264_PRESETS:
            raise ValueError(f"preset must be one of {X264_PRESETS}, got {self.preset!r}")
        if self.tune is not None and self.tune not in X264_TUNES:
            raise ValueError(f"tune must be None or one of {X264_TUNES}, got {self.tune!r}")
        if self.profile is not None and self.profile not in H264_PROFILES:
            raise ValueError(f"profile must be None or one of {H264_PROFILES}, got {self.profile!r}")
        if not _is_real(self.fps) or self.fps <= 0:
            raise ValueError(f"fps must be a number > 0, got {self.fps!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _x264_options(config: EncoderConfig) -> dict[str, str]:
    options = {
        "preset": config.preset,
        # Always low delay, whatever the tune: constant frame rate (variable frame
        # rate input waits for the next frame's pts), no lookahead, no frame threads,
        # and keyframes only on the gop cadence or on request.
        "x264-params": "force-cfr=1:rc-lookahead=0:sync-lookahead=0:sliced-threads=1:scenecut=0",
        "forced-idr": "1",
    }
    if config.tune is not None:
        options["tune"] = config.tune
    if config.bitrate == 0:
        options["crf"] = str(config.crf)
    return options


def _nvenc_options(config: EncoderConfig) -> dict[str, str]:
    options = {
        "preset": _NVENC_PRESETS[config.preset],
        "tune": "ull",
        "zerolatency": "1",
        "delay": "0",
        "no-scenecut": "1",
        "forced-idr": "1",
    }
    if config.bitrate == 0:
        options.update(rc="vbr", cq=str(config.crf))
    else:
        options["rc"] = "cbr"
    return options


def _v4l2m2m_options(config: EncoderConfig) -> dict[str, str]:
    return {}


_ENCODER_OPTIONS = {
    "libx264": _x264_options,
    "h264_nvenc": _nvenc_options,
    "h264_v4l2m2m": _v4l2m2m_options,
}


@dataclass(frozen=True)
class EncodedFrame:
    """One encoded frame: an Annex B access unit."""

    data: bytes
    pts: int
    keyframe: bool
    width: int
    height: int


def _check_rgb(rgb: np.ndarray, width: int | None = None, height: int | None = None) -> None:
    expected = f"uint8 array of shape ({height or 'H'}, {width or 'W'}, 3)"
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"expected an rgb8 {expected}, got {type(rgb).__name__}")
    if (rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3
            or (width is not None and rgb.shape[:2] != (height, width))):
        raise ValueError(f"expected an rgb8 {expected}, got {rgb.dtype} {rgb.shape}")


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an rgb8 image (area averaging when shrinking, bilinear when enlarging).

    Returns the input itself when it already has that size.
    """
    _check_rgb(rgb)
    if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):
        raise ValueError(f"width and height must be positive integers, got {width}x{height}")
    src_height, src_width = rgb.shape[:2]
    if (src_width, src_height) == (width, height):
        return rgb
    interpolation = "AREA" if width <= src_width and height <= src_height else "BILINEAR"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(width, height, interpolation=interpolation).to_ndarray()


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The even (H.264 4:2:0) size a ``width`` x ``height`` frame is sent at after ``scale``."""
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale {scale} must be within (0, 1]")
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _nal_units(data: bytes) -> list[tuple[int, bytes]]:
    """Split an Annex B stream into (nal_unit_type, unit including its start code)."""
    starts = []
    pos = data.find(_START_CODE)
    while pos >= 0 and pos + 3 < len(data):
        starts.append(pos)
        pos = data.find(_START_CODE, pos + 3)
    units = []
    for index, start in enumerate(starts):
        begin = start - 1 if start > 0 and data[start - 1] == 0 else start
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        if end < len(data) and data[end - 1] == 0:
            end -= 1  # the zero belongs to the next unit's 4-byte start code
        units.append((data[start + 3] & 0x1F, data[begin:end]))
    return units


class _ParameterSets:
    """Keeps the latest SPS/PPS and puts them in front of keyframes that lack them."""

    def __init__(self) -> None:
        self._headers = b""

    def apply(self, keyframe: bytes) -> bytes:
        units = _nal_units(keyframe)
        if {_NAL_SPS, _NAL_PPS} <= {kind for kind, _ in units}:
            self._headers = b"".join(unit for kind, unit in units if kind in (_NAL_SPS, _NAL_PPS))
            return keyframe
        if not self._headers:
            raise RuntimeError("keyframe without SPS/PPS and none seen before")
        return self._headers + keyframe


def _open_encoder(codec: str, width: int, height: int, config: EncoderConfig):
    ctx = av.CodecContext.create(codec, "w")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.framerate = Fraction(config.fps).limit_denominator(1001)
    ctx.time_base = 1 / ctx.framerate
    ctx.gop_size = config.gop
    ctx.max_b_frames = 0
    options = _ENCODER_OPTIONS[codec](config)
    if config.profile is not None:
        options["profile"] = config.profile
    if config.bitrate:
        ctx.bit_rate = config.bitrate
        # One second of VBV buffer keeps the rate honest without starving keyframes.
        options.update(maxrate=str(config.bitrate), bufsize=str(config.bitrate))
    ctx.options = options
    ctx.open()
    if ctx.options:
        log.warning("%s ignored options %s", codec, ctx.options)
    return ctx


class H264Encoder:
    """Encodes rgb8 frames of a fixed size into H.264, one packet per frame."""

    def __init__(self, width: int, height: int, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        self.config.validate()
        if not (_is_int(width) and _is_int(height) and width > 0 and height > 0
                and width % 2 == 0 and height % 2 == 0):
            raise ValueError(f"width and height must be positive even integers, got {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        try:
            self._ctx = _open_encoder(self.config.codec, self.width, self.height, self.config)
        except (av.FFmpegError, UnknownCodecError) as exc:
            if self.config.codec == FALLBACK_CODEC:
                raise
            log.warning("cannot open %s (%s); falling back to %s", self.config.codec, exc, FALLBACK_CODEC)
            self._ctx = _open_encoder(FALLBACK_CODEC, self.width, self.height, self.config)
        self._pts = 0
        self._keyframe_requested = False
        self._parameter_sets = _ParameterSets()

    @property
    def codec_name(self) -> str:
        """The encoder actually in use (differs from config.codec after a fallback)."""
        return self._ctx.name

    def request_keyframe(self) -> None:
        """Make the next encoded frame an IDR keyframe."""
        self._keyframe_requested = True

    def encode(self, rgb: np.ndarray, force_keyframe: bool = False) -> EncodedFrame:
        """Encode one rgb8 frame and return its packet."""
        _check_rgb(rgb, self.width, self.height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self._pts
        want_keyframe = force_keyframe or self._keyframe_requested
        if want_keyframe:
            frame.pict_type = PictureType.I
        packets = self._ctx.encode(frame)
        if len(packets) != 1:
            raise RuntimeError(
                f"{self.codec_name} returned {len(packets)} packets for frame {self._pts}; "
                "it must return exactly one packet per frame"
            )
        packet = packets[0]
        if want_keyframe and not packet.is_keyframe:
            raise RuntimeError(f"{self.codec_name} ignored the keyframe request for frame {self._pts}")
        data = bytes(packet)
        if packet.is_keyframe:
            data = self._parameter_sets.apply(data)
        self._keyframe_requested = False
        encoded = EncodedFrame(data, self._pts, packet.is_keyframe, self.width, self.height)
        self._pts += 1
        return encoded


class DecodeError(RuntimeError):
    """A packet could not be decoded; request a keyframe from the sender."""


def _new_decoder_context():
    ctx = av.CodecContext.create("h264", "r")
    ctx.flags |= Flags.low_delay
    # Frame threads would hold frames back, and with slice threads libavcodec
    # neither reports nor flags damaged slices.
    ctx.thread_type = "NONE"
    ctx.options = {"err_detect": "explode"}
    return ctx


class H264Decoder:
    """Decodes the packets of one H.264 stream to rgb8, refusing to show broken frames.

    Every packet either decodes to an image or raises DecodeError, which means
    "request a keyframe". After a corrupt packet, or one whose reference frames
    are missing, the decoder drops packets (raising DecodeError for each) until
    the next keyframe. Frame continuity is tracked by pts, which must count
    frames one by one as H264Encoder does. libavcodec would otherwise
    conceal errors and return plausible-looking garbage, so concealment is turned
    into errors and frames flagged corrupt are refused. Corruption that H.264
    cannot detect (e.g. some single flipped bits) still decodes to wrong pixels
    until the next keyframe.
    """

    def __init__(self) -> None:
        self._ctx = _new_decoder_context()
        self._waiting = True
        self._last_pts: int | None = None

    @property
    def waiting_for_keyframe(self) -> bool:
        """True until a keyframe is decoded, and again after any decode failure."""
        return self._waiting

    def decode(self, data: bytes, keyframe: bool, pts: int) -> np.ndarray:
        """Decode one packet to an rgb8 HxWx3 array.

        Raises DecodeError when the packet is empty, corrupt, follows a lost
        packet, or is not a keyframe while waiting for one.
        """
        if not keyframe:
            if self._waiting:
                raise DecodeError(f"dropped the packet at pts {pts}: waiting for a keyframe")
            if pts != self._last_pts + 1:
                raise self._fail(f"pts jumped from {self._last_pts} to {pts}: a packet was lost")
        if len(data) == 0:
            raise self._fail(f"empty packet at pts {pts}")
        try:
            frames = self._ctx.decode(av.Packet(data))
        except av.FFmpegError as exc:
            raise self._fail(f"libavcodec rejected the packet at pts {pts}: {exc}") from exc
        if len(frames) != 1:
            raise self._fail(f"the packet at pts {pts} gave {len(frames)} frames instead of 1")
        if frames[0].is_corrupt:
            raise self._fail(f"the frame at pts {pts} is damaged (broken or missing slices)")
        self._waiting = False
        self._last_pts = pts
        return frames[0].to_ndarray(format="rgb24")

    def _fail(self, reason: str) -> DecodeError:
        # A fresh context: after a failed packet libavcodec can keep state that
        # damages even the next keyframe, and flush_buffers() does not clear it.
        self._ctx = _new_decoder_context()
        self._waiting = True
        return DecodeError(reason + "; waiting for the next keyframe")


def round_trip(frames, config: EncoderConfig, scale: float = 1.0, keyframes=None):
    """Send ``frames`` (rgb8, one size) as the edge encoder does: downscale by ``scale``, encode as
    one H.264 stream, decode. ``keyframes`` (per frame, True forces an IDR) adds keyframes to the
    gop's. Yields (decoded rgb8 at the sent size, packet bytes) per frame."""
    encoder = decoder = None
    for rgb, keyframe in zip(frames, repeat(False) if keyframes is None else keyframes):
        if encoder is None:
            encoder = H264Encoder(*scaled_size(rgb.shape[1], rgb.shape[0], scale), config)
            decoder = H264Decoder()
        frame = encoder.encode(resize_rgb(rgb, encoder.width, encoder.height), force_keyframe=bool(keyframe))
        yield decoder.decode(frame.data, frame.keyframe, frame.pts), len(frame.data)
