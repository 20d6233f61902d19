from setuptools import find_packages, setup

package_name = "seg_cloud"

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
    description=("Cloud nodes: H.264 decoder, link probe responder and segmentation "
                 "(DeepLabV3-MobileNetV3, or super-resolution + ICNet)."),
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "h264_decoder = seg_cloud.h264_decoder_node:main",
        "segmentation = seg_cloud.segmentation_node:main",
        "link_probe_responder = seg_cloud.link_probe_responder_node:main",
    ]},
)
