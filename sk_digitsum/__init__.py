"""sk_digitsum: read the sum of handwritten digits, the scikit-learn way.

Where things live; a module imports only modules further down this list:

- ``__main__``: the command line; a new command is a subparser there.
- ``accelerated``: the estimators trained through Hugging Face Accelerate.
- ``estimators``: DigitSumClassifier, DigitHeadsClassifier (docstrings; each names its network and loss).
- ``_base``: their private skorch base, skorch's hooks in the order skorch calls them (the path of a fit).
- ``persistence``: the safe model format, and writes that replace a file whole.
- ``_compat``: model files of earlier versions.
- ``plotting``: training curves and misread images.
- ``callbacks``: skorch callbacks (EMA, the learning-rate schedule, the epoch table); a new callback goes here.
- ``streams``: what skorch's fit loop reads: the batch type, the default validation split, streamed data.
- ``synthetic``: SyntheticDigitsGenerator.  ``_validation``: checks of images, labels, parameters, devices.
- ``datasets``: digit banks and composed images.  ``io``: images from files.
- ``nn``: the torch side, importable alone: the networks (one forward pass: scaling, augmentation, precision,
  backbone, head), backbones (one registry, ``nn.backbones.BACKBONES``: a new backbone is one entry),
  heads, the exact sum layer, losses.
"""

import importlib

__version__ = "0.6.0"

# The public names load on first use (PEP 562), so that ``python -m sk_digitsum --help`` and
# ``sk_digitsum.__version__`` answer without importing torch.
_PUBLIC = {
    "DigitHeadsClassifier": "estimators",
    "DigitSumClassifier": "estimators",
    "EMA": "callbacks",
    "SyntheticDigitsGenerator": "synthetic",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
