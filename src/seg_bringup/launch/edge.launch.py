"""Edge side: camera, H.264 encoder, link monitor, ENet segmentation and arbiter. Parameters:
config/edge.yaml (launch arg params_file), profile:=cloudseg to send the camera at low resolution
for super-resolution in the cloud, adapt:=true to follow the link's bandwidth along the profile
ladder (config/adaptation.yaml)."""
from seg_bringup.launch_description import side_launch_description


def generate_launch_description():
    return side_launch_description("edge")
