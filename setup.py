from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="sk_digitsum",
    version="0.6.0",
    description="Read the sum of handwritten digits in an image: scikit-learn estimators built on skorch.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sk_digitsum", "sk_digitsum.*"]),
    python_requires=">=3.10",
    # Lower bounds are the lowest versions CI installs and tests (.ci/run): torch 2.4 for fused SGD on
    # a GPU and torch.load(weights_only=True) of the safe format; skorch 1.3.1, the first whose
    # __sklearn_is_fitted__ answers (1.3.0 returns None, and 1.0-1.2 have none, so scikit-learn's
    # check_is_fitted sees every net as fitted or none); scikit-learn 1.6 for __sklearn_tags__ and
    # sklearn.frozen; numpy 2 for the repr of numpy scalars in the doctests (np.True_).
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "skorch>=1.3.1",
        "scikit-learn>=1.6",
        "numpy>=2.0",
        "pillow>=9",
        "joblib>=1.3",
        "tqdm>=4.60",
    ],
    package_data={"sk_digitsum": ["data/*.gz", "data/README.md"]},
    extras_require={
        "plot": ["matplotlib>=3.6"],
        "docs": ["sphinx>=7", "myst-parser>=2", "sphinx-gallery>=0.15", "matplotlib>=3.6"],
        "distributed": ["dask[distributed]>=2023.1"],
        "accelerate": ["accelerate>=0.28"],
        # Export to ONNX (torch's exporter needs onnx and onnxscript) and prediction without torch.
        "onnx": ["onnx>=1.17", "onnxscript>=0.2", "onnxruntime>=1.20"],
        # Sets of possible sums (the command line's --calibration): MAPIE's split conformal prediction.
        "conformal": ["mapie>=1.0"],
        # The tests build the docs, run the examples, start a local Dask cluster, train in two
        # processes through Accelerate, export to ONNX and predict sets with MAPIE and crepes too.
        "test": ["pytest>=7", "hypothesis>=6", "matplotlib>=3.6", "sphinx>=7", "myst-parser>=2", "sphinx-gallery>=0.15",
                 "dask[distributed]>=2023.1", "accelerate>=0.28", "onnx>=1.17", "onnxscript>=0.2",
                 "onnxruntime>=1.20", "mapie>=1.0", "crepes>=0.8"],
    },
    entry_points={"console_scripts": ["sk-digitsum=sk_digitsum.__main__:main"]},
)
