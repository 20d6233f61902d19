from setuptools import find_packages, setup

package_name = "seg_bridge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml", "README.md"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="seg maintainers",
    maintainer_email="maintainers@seg.invalid",
    description="Zenoh bridge that carries selected ROS topics between the edge and the cloud host over a WAN.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["zenoh_bridge = seg_bridge.bridge_node:main"]},
)
