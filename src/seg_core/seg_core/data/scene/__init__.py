"""Procedural street scenes and driving sequences with Cityscapes train-id labels.

A scene is a street seen from a car-mounted pinhole camera.  A textured ground map
(road, markings, curbs, sidewalks, terrain) is warped onto the ground plane, facades,
walls, fences, hedges, trees, people and two-wheelers are textured sprites on vertical
planes, and vehicles, poles, signs and traffic lights are small polygon meshes.
Everything is painted far to near; each pixel takes the train id of what painted it.
"""
