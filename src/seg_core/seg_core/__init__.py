"""ROS-free core of the segmentation product: scenes, codec, models, metrics."""
