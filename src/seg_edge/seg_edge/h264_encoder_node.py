"""H.264 encoder node: Image -> <image>/h264 packets, keyframes periodically and on request.

`scale` < 1 sends the frames downscaled (e.g. 0.25 for the cloudseg profile, which the cloud
super-resolves); packets carry the original image size, as ffmpeg_image_transport's do.
"""
from __future__ import annotations

from sensor_msgs.msg import Image

from seg_core.codec import EncoderConfig, H264Encoder, resize_rgb, scaled_size
from seg_interfaces.msg import H264Packet, KeyframeRequest
from seg_ros import qos
from seg_ros.node import PipelineNode, received_at, run


class H264EncoderNode(PipelineNode):
    STAGE = "h264_encoder"
    PARAMETERS = {
        "codec": ("libx264", "libav encoder; hardware ones (h264_nvenc, h264_v4l2m2m) fall back to libx264"),
        "bitrate": (0, "target bits per second; 0 = constant quality (crf)"),
        "crf": (23, "constant rate factor 0..51 when bitrate is 0 (lower = better)"),
        "gop": (30, "keyframe interval in frames"),
        "preset": ("ultrafast", "x264 preset"),
        "tune": ("zerolatency", "x264 tune; zerolatency holds no frames"),
        "fps": (30.0, "nominal frame rate given to the encoder's rate control"),
        "scale": (1.0, "scale applied before encoding (0 < scale <= 1), e.g. 0.5 to send low resolution"),
    }

    def __init__(self):
        super().__init__("h264_encoder")
        p = self.params
        self._config = EncoderConfig(codec=p["codec"], bitrate=p["bitrate"], crf=p["crf"], gop=p["gop"],
                                     preset=p["preset"], tune=p["tune"], fps=p["fps"])
        self._config.validate()
        if not 0.0 < p["scale"] <= 1.0:
            raise ValueError(f"scale {p['scale']} must be within (0, 1]")
        self._encoder: H264Encoder | None = None
        self._keyframe_wanted = False
        sub = self.subscribe_frames("image", self._on_image)
        packets = f"{sub.topic_name}/h264"
        self._packet_pub = self.create_publisher(H264Packet, packets, qos.PACKETS)
        self.create_subscription(KeyframeRequest, f"{packets}/keyframe_request", self._on_request,
                                 qos.PUBLISH)
        self.get_logger().info(f"encoding {sub.topic_name} -> {packets} with {self._config}")

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

    def _on_image(self, msg: Image, info) -> None:
        received, started = received_at(info), self.now_msg()
        rgb = self.rgb_or_none(msg)
        if rgb is None:
            return
        encoder = self._encoder_for(msg.width, msg.height)
        if (encoder.width, encoder.height) != (msg.width, msg.height):
            rgb = resize_rgb(rgb, encoder.width, encoder.height)
        frame = encoder.encode(rgb, force_keyframe=self._keyframe_wanted)
        self._keyframe_wanted = False
        packet = H264Packet(header=msg.header, width=msg.width, height=msg.height,
                            encoding=f"h264;yuv420p;rgb8;{msg.encoding}", pts=frame.pts,
                            flags=H264Packet.FLAG_KEYFRAME if frame.keyframe else 0,
                            is_bigendian=False, data=frame.data)
        handed = self.now_msg()
        if self.publish(self._packet_pub, packet):
            self.report_timing(msg.header, received, started, handed, len(frame.data))
        elif not frame.keyframe:
            self._keyframe_wanted = True  # subscribers miss this packet's reference: resync soon


def main(args=None):
    run(H264EncoderNode, args)
