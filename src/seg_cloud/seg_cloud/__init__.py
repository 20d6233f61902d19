"""Cloud nodes: H.264 decoder and DeepLabV3 segmentation."""
