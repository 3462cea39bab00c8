"""sk_digitsum: read the sum of handwritten digits, the scikit-learn way.

Where things live; a module imports only modules further down this list:

- ``estimators``: DigitSumClassifier, DigitHeadsClassifier (skorch nets; the path of a fit is in its
  docstring). ``accelerated``: the same through Hugging Face Accelerate.
- ``__main__``: the command line; a new command is a subparser there.
- ``plotting``: training curves and misread images.
- ``persistence``: the safe model format; estimators register their classes with it.
- ``callbacks``: skorch callbacks (EMA, the learning-rate schedule); a new callback goes here.
- ``streams``: what skorch's fit loop reads: the default validation split and streamed data; a new
  data source for training goes here.
- ``synthetic``: SyntheticDigitsGenerator.  ``augment``: the random distortions of digit slots.
- ``_device``: device and precision policy.  ``_validation``: checks of images, labels, parameters.
- ``datasets``: digit banks and composed images.  ``io``: images from files.
- ``nn``: backbones (one registry, ``nn.backbones.BACKBONES``: a new backbone is one entry), heads,
  the exact sum layer, losses.
"""

import importlib

__version__ = "0.5.0"

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
