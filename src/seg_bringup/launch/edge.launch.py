"""Edge side: camera and H.264 encoder. Parameters: config/edge.yaml (launch arg params_file)."""
from seg_bringup.launch_description import side_launch_description


def generate_launch_description():
    return side_launch_description("edge")
