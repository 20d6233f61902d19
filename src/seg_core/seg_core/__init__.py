"""ROS-free core of the segmentation product, laid out along the data path: data (classes, scenes,
datasets, sources), codec, models (+ inference, ONNX, super-resolution), training, edge (link, arbiter)."""
