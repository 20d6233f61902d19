from glob import glob

from setuptools import find_packages, setup

package_name = "seg_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
        *[("share/" + package_name + "/" + folder, glob(folder + "/*.yaml")) for folder in glob("config/profiles/*")],
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="seg maintainers",
    maintainer_email="maintainers@seg.invalid",
    description="Launch files, parameter files, launcher and demo of the segmentation product.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "run_graph = seg_bringup.runner:main",
        "demo = seg_bringup.demo:main",
    ]},
)
