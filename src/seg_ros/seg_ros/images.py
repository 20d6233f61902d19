"""sensor_msgs/Image <-> numpy conversions (what cv_bridge would do, for the encodings used here)."""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1}
# Largest image accepted (4096 x 4096, more than 4K UHD): a bigger one is refused before its
# pixels are touched, so a stray 8K frame cannot stall or exhaust a node.
MAX_PIXELS = 4096 * 4096


def image_to_rgb(msg: Image) -> np.ndarray:
    """Return an HxWx3 uint8 rgb array for an rgb8 or bgr8 Image; ValueError for anything else."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported image encoding '{msg.encoding}' (expected rgb8 or bgr8)")
    pixels = _pixels(msg, 3)
    return pixels[:, :, ::-1] if msg.encoding == "bgr8" else pixels


def image_to_mono(msg: Image) -> np.ndarray:
    """Return an HxW uint8 array for a mono8 Image (e.g. a label image)."""
    if msg.encoding != "mono8":
        raise ValueError(f"unsupported image encoding '{msg.encoding}' (expected mono8)")
    return _pixels(msg, 1)[:, :, 0]


def _pixels(msg: Image, channels: int) -> np.ndarray:
    if msg.width == 0 or msg.height == 0:
        raise ValueError(f"empty image ({msg.width}x{msg.height})")
    if msg.width * msg.height > MAX_PIXELS:
        raise ValueError(f"image {msg.width}x{msg.height} is larger than the {MAX_PIXELS} pixels accepted")
    row = msg.width * channels
    if msg.step < row:
        raise ValueError(f"image step {msg.step} is smaller than width*channels {row}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != msg.step * msg.height:
        raise ValueError(
            f"image data has {data.size} bytes, expected step*height = {msg.step * msg.height}")
    return data.reshape(msg.height, msg.step)[:, :row].reshape(msg.height, msg.width, channels)


def array_to_image(array: np.ndarray, header, encoding: str) -> Image:
    """Wrap an HxW (mono8) or HxWx3 (rgb8/bgr8) uint8 array in an Image with the given header."""
    channels = _CHANNELS.get(encoding)
    if channels is None:
        raise ValueError(f"unsupported image encoding '{encoding}'")
    if array.dtype != np.uint8 or array.shape[2:] != ((channels,) if channels > 1 else ()):
        raise ValueError(f"{encoding} needs a uint8 array with {channels} channel(s), "
                         f"got {array.dtype} {array.shape}")
    msg = Image()
    msg.header = header
    msg.height, msg.width = array.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * channels
    msg.data = np.ascontiguousarray(array).tobytes()
    return msg


def labels_to_png(labels: np.ndarray) -> bytes:
    """PNG bytes of an HxW uint8 label image (lossless; label images compress ~20-50x)."""
    import cv2
    ok, buf = cv2.imencode(".png", labels, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"cannot PNG-encode labels of shape {labels.shape}")
    return buf.tobytes()


def png_to_labels(data: bytes) -> np.ndarray:
    """Inverse of labels_to_png; ValueError if the bytes are not a single-channel PNG."""
    import cv2
    labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError("compressed labels are not a single-channel 8-bit PNG")
    return labels
