"""Recording and replaying the segmentation graph as rosbag2 (MCAP) bags."""
