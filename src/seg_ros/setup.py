from setuptools import find_packages, setup

package_name = "seg_ros"

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
    description="ROS glue shared by the segmentation nodes.",
    license="Apache-2.0",
)
