"""What flows in: the Cityscapes classes, generated street scenes, datasets, frame sources and the scene cache."""
