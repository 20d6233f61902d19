"""Cloud side: H.264 decoder, segmentation and link probe responder. Parameters: config/cloud.yaml
(launch arg params_file), profile:=cloudseg to super-resolve a low-resolution stream before segmenting it."""
from seg_bringup.launch_description import side_launch_description


def generate_launch_description():
    return side_launch_description("cloud")
