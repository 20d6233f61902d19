"""H.264 encoder node: Image -> <image>/h264 packets, keyframes periodically and on request.

`scale` < 1 sends the frames downscaled (e.g. 0.25 for the cloudseg profile, which the cloud
super-resolves); packets carry the original image size, as ffmpeg_image_transport's do.

Not every camera frame has to be sent: frames beyond `fps` are left out, and with
`frame_selection` CloudSeg's 2-level selector (seg_core.edge.frame_selector) sends a frame only
when it changed enough since the last one sent (as an IDR keyframe when it changed a lot). Every
camera frame gets a FrameSelection on <image>/h264/selection saying what happened to it, so the
arbiter can give a frame that was not sent the cloud's newest labels.

`scale`, `bitrate`, `fps`, `frame_selection` and the selector thresholds can be changed while
running (`ros2 param set`, or the edge's link adaptation). A change of scale, bitrate or fps
restarts the encoder: its next packet is a keyframe (with SPS/PPS of the new size), so the decoder
follows without a gap.
"""
from __future__ import annotations

import math

from sensor_msgs.msg import Image

from seg_core.codec import EncoderConfig, H264Encoder, resize_rgb, scaled_size
from seg_core.edge.frame_selector import KEY, SKIP, FrameSelector, SelectorConfig
from seg_core.edge.rate import FrameRateGate
from seg_interfaces.msg import FrameSelection, H264Packet, KeyframeRequest
from seg_ros import qos
from seg_ros.node import PipelineNode, received_at, run, stamp_seconds

_SELECTOR = SelectorConfig()
ENCODER_SETTINGS = ("scale", "bitrate", "fps")


class H264EncoderNode(PipelineNode):
    STAGE = "h264_encoder"
    PARAMETERS = {
        "codec": ("libx264", "libav encoder; hardware ones (h264_nvenc, h264_v4l2m2m) fall back to libx264"),
        "bitrate": (0, "target bits per second; 0 = constant quality (crf)"),
        "crf": (23, "constant rate factor 0..51 when bitrate is 0 (lower = better)"),
        "gop": (30, "keyframe interval in frames"),
        "preset": ("ultrafast", "x264 preset"),
        "tune": ("zerolatency", "x264 tune; zerolatency holds no frames"),
        "fps": (30.0, "frames sent per second at most (the rest are left out), and the rate control's frame rate"),
        "scale": (1.0, "scale applied before encoding (0 < scale <= 1), e.g. 0.5 to send low resolution"),
        "frame_selection": (False, "send a frame only when it changed since the last one sent (CloudSeg's "
                                   "2-level selector)"),
        "selection_low": (_SELECTOR.low, "change score (grey levels) above which a frame is sent"),
        "selection_high": (_SELECTOR.high, "change score above which a frame is sent as a keyframe"),
        "selection_max_skipped": (_SELECTOR.max_skipped, "frames in a row the selector may leave out"),
    }
    RECONFIGURABLE = frozenset({*ENCODER_SETTINGS, "frame_selection", "selection_low", "selection_high"})

    def __init__(self):
        super().__init__("h264_encoder")
        p = self.params
        self._config = self._checked_config(p)
        self._selector = FrameSelector(self._selector_config(p))
        self._gate = FrameRateGate(p["fps"])
        self._encoder: H264Encoder | None = None
        self._keyframe_wanted = False
        sub = self.subscribe_frames("image", self._on_image)
        packets = f"{sub.topic_name}/h264"
        self._packet_pub = self.create_publisher(H264Packet, packets, qos.PACKETS)
        self._selection_pub = self.create_publisher(FrameSelection, f"{packets}/selection", qos.PUBLISH)
        self.create_subscription(KeyframeRequest, f"{packets}/keyframe_request", self._on_request,
                                 qos.PUBLISH)
        self.get_logger().info(f"encoding {sub.topic_name} -> {packets} with {self._config}"
                               + (f", frame selection {self._selector.config}" if p["frame_selection"] else ""))

    @staticmethod
    def _checked_config(p: dict) -> EncoderConfig:
        config = EncoderConfig(codec=p["codec"], bitrate=p["bitrate"], crf=p["crf"], gop=p["gop"],
                               preset=p["preset"], tune=p["tune"], fps=p["fps"])
        config.validate()
        if not 0.0 < p["scale"] <= 1.0:
            raise ValueError(f"scale {p['scale']} must be within (0, 1]")
        return config

    @staticmethod
    def _selector_config(p: dict) -> SelectorConfig:
        config = SelectorConfig(low=p["selection_low"], high=p["selection_high"],
                                max_skipped=p["selection_max_skipped"])
        config.validate()
        return config

    def reconfigure(self, params: dict) -> None:
        config = self._checked_config(params)
        thresholds = self._selector_config(params)
        if any(params[k] != self.params[k] for k in ENCODER_SETTINGS):
            self._config = config
            self._gate.fps = params["fps"]
            self._encoder = None   # the next frame starts a new stream: a keyframe at the new settings
        self._selector.set_thresholds(thresholds.low, thresholds.high)
        self.get_logger().info(
            f"reconfigured: scale {params['scale']:g}, bitrate {params['bitrate']} bit/s, fps {params['fps']:g}, "
            + (f"frame selection {thresholds.low:g}/{thresholds.high:g}" if params["frame_selection"]
               else "every frame"))

    def _on_request(self, msg: KeyframeRequest) -> None:
        self.get_logger().info(f"keyframe requested by {msg.header.frame_id or 'unknown'}: {msg.reason}")
        self._keyframe_wanted = True

    def _encoder_for(self, width: int, height: int) -> H264Encoder:
        w, h = scaled_size(width, height, self.params["scale"])
        if self._encoder is None or (self._encoder.width, self._encoder.height) != (w, h):
            if self._encoder is not None:
                self.get_logger().warning(f"input size changed; restarting encoder at {w}x{h}")
            self._encoder = H264Encoder(w, h, self._config)
        return self._encoder

    def _announce(self, header, decision: str, score: float = math.nan) -> None:
        self.publish(self._selection_pub, FrameSelection(header=header, decision=decision, score=score))

    def _select(self, rgb) -> tuple[str | None, float]:
        """The frame selector's (decision, score), or (None, NaN): send it, unscored."""
        if not self.params["frame_selection"]:
            return None, math.nan
        try:
            return self._selector.select(rgb)
        except ValueError as exc:   # a frame too small to score
            self.log_problem(f"sending a frame unselected: {exc}")
            return None, math.nan

    def _on_image(self, msg: Image, info) -> None:
        received, started = received_at(info), self.now_msg()
        if not self._gate.passes(stamp_seconds(msg.header.stamp)):
            self._announce(msg.header, FrameSelection.RATE)
            return
        rgb = self.rgb_or_none(msg)
        if rgb is None:
            return
        decision, score = self._select(rgb)
        if decision == SKIP:
            self._announce(msg.header, FrameSelection.SKIPPED, score)
            return
        encoder = self._encoder_for(msg.width, msg.height)
        if (encoder.width, encoder.height) != (msg.width, msg.height):
            rgb = resize_rgb(rgb, encoder.width, encoder.height)
        frame = encoder.encode(rgb, force_keyframe=self._keyframe_wanted or decision == KEY)
        self._keyframe_wanted = False
        packet = H264Packet(header=msg.header, width=msg.width, height=msg.height,
                            encoding=f"h264;yuv420p;rgb8;{msg.encoding}", pts=frame.pts,
                            flags=H264Packet.FLAG_KEYFRAME if frame.keyframe else 0,
                            is_bigendian=False, data=frame.data)
        handed = self.now_msg()
        if self.publish(self._packet_pub, packet):
            self.report_timing(msg.header, received, started, handed, len(frame.data))
            self._announce(msg.header, FrameSelection.KEY if frame.keyframe else FrameSelection.USEFUL, score)
        elif not frame.keyframe:
            self._keyframe_wanted = True  # subscribers miss this packet's reference: resync soon


def main(args=None):
    run(H264EncoderNode, args)
