"""Installs the instance-aware colorizer: the `colorization`, `data_prep` and `export` packages."""

from setuptools import find_packages, setup

setup(
    name="instance-aware-colorizer",
    version="0.1.0",
    description=(
        "TensorFlow/Keras reimplementation of instance-aware automatic image colorization "
        "(Li, Zeng, Xiao, Wang), built on Zhang et al. 2016 and Iizuka et al. 2016."
    ),
    python_requires=">=3.10",
    packages=find_packages(include=["colorization*", "data_prep*", "export*", "benchmarks*"]),
    py_modules=["train_main"],
    # The shipped colorizer (model.keras, config.json, priors.npz, summary.json, licence).
    package_data={"colorization": ["pretrained/*"]},
    install_requires=[
        # The CPU wheel is enough for CI and laptops; GPU users install the
        # `gpu` extra, which pulls CUDA through tensorflow[and-cuda].
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "tensorboard>=2.20,<3",
        "tensorflow-datasets>=4.9.8,<5",
        "scikit-image>=0.24,<0.27",
        "absl-py>=2.1,<3",
        "numpy>=1.26,<3",
        "pillow>=10",
        "ai-edge-litert>=2.0,<3",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # jax proves that model.py and losses.py are backend-agnostic (tests/test_model.py).
        # tensorflow-serving-api: the gRPC request tests of export/serving_client.py.
        "test": [
            "pytest>=8",
            "ruff==0.17.6",
            "jax[cpu]>=0.4.30",
            "tensorflow-serving-api>=2.21,<2.22",
            # The demo page and its browser test (tests/test_demo.py).
            "gradio>=5,<7",
            "selenium>=4.20,<5",
        ],
        # python -m colorization.demo: a local page to try the colorizer.
        "demo": ["gradio>=5,<7"],
        "serving": ["tensorflow-serving-api>=2.21,<2.22"],
        "bench": ["torch==2.13.0", "onnxruntime>=1.20", "openvino>=2024.0", "tf2onnx>=1.16"],
    },
)
