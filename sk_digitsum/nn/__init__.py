"""PyTorch modules: the networks the estimators train, their backbones, heads, the exact sum layer and the losses.

Importable alone: nothing here depends on skorch or scikit-learn.
"""

from .augment import AUGMENTATION, FREE_LAYOUT_AUGMENTATION, SlotAugment, distort_slots
from .backbones import BACKBONES, ConvNet, DigitNet, build_backbone, check_backbone, describe_backbones, make_resnet
from .heads import DigitHeads, DigitReader, DigitSumLayer, ReadingSumLayer, SumHead, log_convolve
from .losses import DigitHeadsLoss, DigitReaderLoss, SumLoss
from .networks import DigitHeadsNet, DigitReaderNet, DigitSumNet, as_image_batch, folded, unwrap

__all__ = [
    "AUGMENTATION", "FREE_LAYOUT_AUGMENTATION", "SlotAugment", "distort_slots",
    "BACKBONES", "ConvNet", "DigitNet", "build_backbone", "check_backbone", "describe_backbones", "make_resnet",
    "DigitHeads", "DigitReader", "DigitSumLayer", "ReadingSumLayer", "SumHead", "log_convolve",
    "DigitHeadsLoss", "DigitReaderLoss", "SumLoss",
    "DigitHeadsNet", "DigitReaderNet", "DigitSumNet", "as_image_batch", "folded", "unwrap",
]
