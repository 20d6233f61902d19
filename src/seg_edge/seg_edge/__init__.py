"""Edge nodes: camera, H.264 encoder, link monitor, ENet segmentation and the arbiter choosing cloud or edge labels."""
