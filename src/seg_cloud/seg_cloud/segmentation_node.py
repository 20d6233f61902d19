"""Cloud segmentation node: DeepLabV3 (or any registry model) on decoded camera images."""
from seg_ros.node import run
from seg_ros.segmentation import SegmentationNode


def main(args=None):
    run(SegmentationNode, args)
