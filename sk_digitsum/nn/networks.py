"""Whole networks: image scaling, a backbone and a head."""

import torch
from torch import nn

from .backbones import build_backbone
from .heads import DigitHeads, DigitSumLayer, SumHead


def unwrap(module):
    """The network inside its wrappers: ``torch.compile`` (skorch's ``compile=True``) and data parallelism.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import unwrap
    >>> layer = torch.nn.Linear(2, 2)
    >>> unwrap(torch.compile(layer)) is layer
    True
    """
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        elif isinstance(module, torch._dynamo.eval_frame.OptimizedModule):
            module = module._orig_mod
        else:
            return module


def as_float_images(x):
    """Scale a uint8 batch to floats in [0, 1]; float batches pass unchanged.

    Datasets stay uint8 in memory and each batch is converted here, so no
    float copy of a whole dataset is ever made.
    """
    if x.dtype == torch.uint8:
        return x.float().mul_(1 / 255)
    return x.float() if not x.is_floating_point() else x


def in_float32(head, features):
    """Apply ``head`` to ``features`` in float32, outside any autocast.

    Under bfloat16 autocast, logits near 20 are rounded to steps of 1/8: too
    coarse for the small late-training updates. On held-out embedded digits,
    float32 heads on a bfloat16 backbone beat bfloat16 heads in two paired
    runs (95.1% vs 93.7%, 93.9% vs 93.55% sum accuracy). The head
    is a tiny share of the compute, so the backbone alone runs in bfloat16.
    """
    with torch.autocast(features.device.type, enabled=False):
        return head(features.float())


class _DigitNetwork(nn.Module):
    def __init__(self, backbone, depth, pretrained, image_shape, n_digits, backbone_options):
        super().__init__()
        self.n_digits = n_digits
        self.backbone = build_backbone(backbone, depth, pretrained, image_shape, **backbone_options)

    def features(self, x):
        return self.backbone(as_float_images(x))


class DigitSumNet(_DigitNetwork):
    """Backbone and :class:`SumHead`: logits over the sums 0..9 * n_digits.

    Parameters
    ----------
    backbone, depth, pretrained, image_shape
        As in :func:`~sk_digitsum.nn.build_backbone`.
    n_digits : int
        Digits per image.
    **backbone_options
        Passed to the backbone, e.g. ``width`` for digitnet.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitSumNet
    >>> DigitSumNet()(torch.zeros(2, 1, 28, 112, dtype=torch.uint8)).shape
    torch.Size([2, 37])
    """

    def __init__(self, backbone="digitnet", depth=None, pretrained=False, image_shape=(28, 112), n_digits=4,
                 **backbone_options):
        super().__init__(backbone, depth, pretrained, image_shape, n_digits, backbone_options)
        self.head = SumHead(self.backbone.out_channels, n_digits, 9 * n_digits + 1)

    def forward(self, x):
        return in_float32(self.head, self.features(x))

    def sum_log_probs(self, logits):
        """Log-probabilities of each sum, from this network's output."""
        return torch.log_softmax(logits.float(), dim=-1)


class DigitHeadsNet(_DigitNetwork):
    """Backbone and :class:`DigitHeads`: digit logits of shape (N, n_digits, 10).

    Parameters
    ----------
    backbone, depth, pretrained, image_shape
        As in :func:`~sk_digitsum.nn.build_backbone`.
    n_digits : int
        Digits per image.
    dropout : float, default=0.3
        Dropout on the pooled per-slot features (see :class:`DigitHeads`);
        across five folds of the embedded digits it added 0.06% per-digit
        and 0.24% sum accuracy on held-out digits (docs/defaults.md).
    **backbone_options
        Passed to the backbone, e.g. ``width`` for digitnet.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitHeadsNet
    >>> net = DigitHeadsNet()
    >>> logits = net(torch.zeros(2, 1, 28, 112, dtype=torch.uint8))
    >>> logits.shape, net.sum_log_probs(logits).shape
    (torch.Size([2, 4, 10]), torch.Size([2, 37]))
    """

    def __init__(self, backbone="digitnet", depth=None, pretrained=False, image_shape=(28, 112), n_digits=4,
                 dropout=0.3, **backbone_options):
        super().__init__(backbone, depth, pretrained, image_shape, n_digits, backbone_options)
        self.heads = DigitHeads(self.backbone.out_channels, n_digits, dropout=dropout)
        self.sum_layer = DigitSumLayer()

    def forward(self, x):
        return in_float32(self.heads, self.features(x))

    def sum_log_probs(self, digit_logits):
        """Exact log-probabilities of each sum, from the digit logits."""
        return self.sum_layer(digit_logits)
