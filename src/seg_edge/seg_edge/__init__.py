"""Edge nodes: camera and H.264 encoder."""
