"""Cloud nodes: H.264 decoder, link probe responder and segmentation (DeepLabV3-MobileNetV3, or
super-resolution + ICNet)."""
