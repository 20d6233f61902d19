"""Cloud side: H.264 decoder and segmentation. Parameters: config/cloud.yaml (launch arg params_file)."""
from seg_bringup.launch_description import side_launch_description


def generate_launch_description():
    return side_launch_description("cloud")
