from setuptools import find_packages, setup

setup(
    name="pointdet",
    version="0.1.0",
    description="Detectron2 extension for object detection, localization and instance "
    "segmentation from cheap labels (points, clicks, one box per class, sparse boxes)",
    packages=find_packages(include=["pointdet", "pointdet.*"]),
    python_requires=">=3.9",
    # torch, torchvision and detectron2 are installed by tools/install/bootstrap_env.sh
    install_requires=[
        "numpy<2",
        "fvcore",
        "iopath",
        "pycocotools",
        "scipy",
        "tqdm",
    ],
    extras_require={
        "all": ["faster-coco-eval", "segment-anything", "opencv-contrib-python-headless<4.12", "tifffile"],
    },
)
