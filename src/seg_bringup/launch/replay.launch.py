"""Replay: a bag played into the encoder, decoder, segmentation and arbiter (config/replay.yaml)."""
from seg_bringup.launch_description import replay_launch_description


def generate_launch_description():
    return replay_launch_description()
