"""sk_digitsum: read the sum of handwritten digits, the scikit-learn way."""

from .callbacks import EMA
from .estimators import DigitHeadsClassifier, DigitSumClassifier
from .synthetic import SyntheticDigitsGenerator

__version__ = "0.3.0"

__all__ = ["DigitHeadsClassifier", "DigitSumClassifier", "EMA", "SyntheticDigitsGenerator", "__version__"]
