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

from .callbacks import EMA
from .estimators import DigitHeadsClassifier, DigitSumClassifier
from .synthetic import SyntheticDigitsGenerator

__version__ = "0.4.1"

__all__ = ["DigitHeadsClassifier", "DigitSumClassifier", "EMA", "SyntheticDigitsGenerator", "__version__"]
