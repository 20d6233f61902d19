from setuptools import find_packages, setup

package_name = "seg_bag"

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
    description="rosbag2 (MCAP) recorder and player for the segmentation graph, built on the rosbags library.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "bag_recorder = seg_bag.recorder_node:main",
        "bag_player = seg_bag.player_node:main",
    ]},
)
