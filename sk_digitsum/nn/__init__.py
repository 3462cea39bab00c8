"""PyTorch modules: backbones, digit heads, the exact sum layer and the losses."""

from .backbones import BACKBONES, ConvNet, DigitNet, build_backbone, check_backbone, describe_backbones, make_resnet
from .heads import DigitHeads, DigitSumLayer, SumHead, log_convolve
from .losses import DigitHeadsLoss, SumLoss
from .networks import DigitHeadsNet, DigitSumNet, as_float_images, unwrap

__all__ = [
    "BACKBONES", "ConvNet", "DigitNet", "build_backbone", "check_backbone", "describe_backbones", "make_resnet",
    "DigitHeads", "DigitSumLayer", "SumHead", "log_convolve",
    "DigitHeadsLoss", "SumLoss",
    "DigitHeadsNet", "DigitSumNet", "as_float_images", "unwrap",
]
