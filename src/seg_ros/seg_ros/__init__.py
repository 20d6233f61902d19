"""ROS glue shared by the segmentation nodes."""
