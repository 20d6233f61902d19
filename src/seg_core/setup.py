from setuptools import find_packages, setup

package_name = "seg_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["weights/*.pt", "weights/*.json", "weights/*.onnx", "edge/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="seg maintainers",
    maintainer_email="maintainers@seg.invalid",
    description="ROS-free core of the segmentation product: data, codec, models, training, the edge's decisions.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
