from setuptools import find_packages, setup

package_name = "seg_edge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="seg maintainers",
    maintainer_email="maintainers@seg.invalid",
    description=("Edge nodes: camera, H.264 encoder, link monitor, link adaptation, ENet segmentation and "
                 "the arbiter choosing cloud or edge labels."),
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "camera = seg_edge.camera_node:main",
        "h264_encoder = seg_edge.h264_encoder_node:main",
        "link_monitor = seg_edge.link_monitor_node:main",
        "link_adaptation = seg_edge.link_adaptation_node:main",
        "edge_segmentation = seg_edge.edge_segmentation_node:main",
        "segmentation_arbiter = seg_edge.segmentation_arbiter_node:main",
    ]},
)
