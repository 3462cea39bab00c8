"""Whole networks: images in as the estimators receive them, logits out, through one forward pass.

A network does all the per-image work itself, so that training,
validation, the teacher of unlabelled images, prediction and ONNX export run
the same code: it takes uint8 (0-255) or float ([0, 1]) images of shape
(n, H, W) or (n, 1, H, W), scales them to floats with a channel axis in
channels-last memory, distorts them in training mode (:class:`SlotAugment`),
runs the backbone under the precision policy (:mod:`~sk_digitsum.nn.precision`)
and the head in float32.
"""

import copy

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from .augment import AUGMENTATION, FREE_LAYOUT_AUGMENTATION, SlotAugment
from .backbones import build_backbone
from .heads import DigitHeads, DigitReader, DigitSumLayer, ReadingSumLayer, SumHead
from .precision import autocast, in_float32


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


def as_image_batch(images):
    """Images as the backbones read them: floats in [0, 1], shape (n, 1, H, W), channels-last.

    uint8 images are scaled by 1/255 and float ones kept; an (n, H, W) stack
    gains its channel axis. Data sets stay uint8 in memory and each batch is
    converted here, so no float copy of a whole data set is ever made.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import as_image_batch
    >>> batch = as_image_batch(torch.full((2, 28, 56), 255, dtype=torch.uint8))
    >>> batch.shape, batch.dtype, float(batch.max())
    (torch.Size([2, 1, 28, 56]), torch.float32, 1.0)
    """
    if images.ndim == 3:
        images = images.unsqueeze(1)
    images = images.float().mul_(1 / 255) if images.dtype == torch.uint8 else images.float()
    # Channels-last convolutions are faster on CPUs and on GPUs' tensor cores.
    return images.contiguous(memory_format=torch.channels_last)


class _DigitNetwork(nn.Module):
    """Scaling, augmentation and the backbone under the precision policy; subclasses add the head."""

    augmentation = AUGMENTATION  # the ranges of augment=True

    def __init__(self, backbone, depth, pretrained, image_shape, n_digits, mixed_precision, augment,
                 backbone_options):
        super().__init__()
        self.n_digits = n_digits
        self.image_shape = tuple(image_shape)
        self.mixed_precision = mixed_precision
        self.augment = SlotAugment(n_digits, augment, self.augmentation)
        self.backbone = build_backbone(backbone, depth, pretrained, image_shape, **backbone_options)
        self.to(memory_format=torch.channels_last)

    def features(self, images):
        """The backbone's feature map of a batch of images, under the precision policy."""
        batch = self.augment(as_image_batch(images))
        with autocast(self.mixed_precision, batch.device.type):
            return self.backbone(batch)


class DigitSumNet(_DigitNetwork):
    """Backbone and :class:`SumHead`: logits over the sums 0..9 * n_digits.

    Parameters
    ----------
    backbone, depth, pretrained, image_shape
        As in :func:`~sk_digitsum.nn.build_backbone`.
    n_digits : int
        Digits per image.
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
        The backbone's precision (:func:`~sk_digitsum.nn.precision.autocast_dtype`).
    augment : bool or dict, default=True
        Distortion of training batches (:class:`~sk_digitsum.nn.augment.SlotAugment`).
    **backbone_options
        Passed to the backbone, e.g. ``width`` for digitnet.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitSumNet
    >>> DigitSumNet().eval()(torch.zeros(2, 28, 112, dtype=torch.uint8)).shape
    torch.Size([2, 37])
    """

    def __init__(self, backbone="digitnet", depth=None, pretrained=False, image_shape=(28, 112), n_digits=4, *,
                 mixed_precision="auto", augment=True, **backbone_options):
        super().__init__(backbone, depth, pretrained, image_shape, n_digits, mixed_precision, augment,
                         backbone_options)
        self.head = SumHead(self.backbone.out_channels, n_digits, 9 * n_digits + 1)

    def forward(self, images):
        return in_float32(self.head, self.features(images))

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
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
        The backbone's precision (:func:`~sk_digitsum.nn.precision.autocast_dtype`).
    augment : bool or dict, default=True
        Distortion of training batches (:class:`~sk_digitsum.nn.augment.SlotAugment`).
    **backbone_options
        Passed to the backbone, e.g. ``width`` for digitnet.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitHeadsNet
    >>> net = DigitHeadsNet().eval()
    >>> logits = net(torch.zeros(2, 28, 112, dtype=torch.uint8))
    >>> logits.shape, net.sum_log_probs(logits).shape
    (torch.Size([2, 4, 10]), torch.Size([2, 37]))
    """

    def __init__(self, backbone="digitnet", depth=None, pretrained=False, image_shape=(28, 112), n_digits=4,
                 dropout=0.3, *, mixed_precision="auto", augment=True, **backbone_options):
        super().__init__(backbone, depth, pretrained, image_shape, n_digits, mixed_precision, augment,
                         backbone_options)
        self.heads = DigitHeads(self.backbone.out_channels, n_digits, dropout=dropout)
        self.sum_layer = DigitSumLayer()

    def forward(self, images):
        return in_float32(self.heads, self.features(images))

    def sum_log_probs(self, digit_logits):
        """Exact log-probabilities of each sum, from the digit logits."""
        return self.sum_layer(digit_logits)


class DigitReaderNet(_DigitNetwork):
    """Backbone and :class:`DigitReader`: digits anywhere, in any number up to ``max_digits``.

    Its output is one row of 11 symbol logits (the digits and "no digit")
    per column of the feature map, shape (N, columns, 11);
    :meth:`sum_log_probs` gives the exact distribution of the sum
    (:class:`ReadingSumLayer`).

    Parameters
    ----------
    backbone, depth, pretrained, image_shape
        As in :func:`~sk_digitsum.nn.build_backbone`.
    max_digits : int
        The most digits an image holds; sums run over 0..9 * max_digits.
    dropout : float, default=0.3
        Dropout on the column features (see :class:`DigitReader`).
    context : int, default=3
        Columns each column sees through the reader's context convolution
        (see :class:`DigitReader`).
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
        The backbone's precision (:func:`~sk_digitsum.nn.precision.autocast_dtype`).
    augment : bool or dict, default=True
        Distortion of training batches (:class:`~sk_digitsum.nn.augment.SlotAugment`,
        over ``max_digits`` slots of the canvas), with the milder rotation,
        scales and shifts of :data:`~sk_digitsum.nn.augment.FREE_LAYOUT_AUGMENTATION`,
        which read more sums of digits anywhere.
    **backbone_options
        Passed to the backbone, e.g. ``width`` for digitnet.

    Raises
    ------
    ValueError
        Where the backbone's feature map has too few columns to read
        ``max_digits`` digits (2 * max_digits - 1: two equal digits need a
        column of "no digit" between them), as the 1x1 map of convnet.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitReaderNet
    >>> net = DigitReaderNet(image_shape=(28, 168), max_digits=6).eval()
    >>> logits = net(torch.zeros(2, 28, 168, dtype=torch.uint8))
    >>> logits.shape, net.sum_log_probs(logits).shape
    (torch.Size([2, 21, 11]), torch.Size([2, 55]))
    """

    augmentation = FREE_LAYOUT_AUGMENTATION

    def __init__(self, backbone="digitnet", depth=None, pretrained=False, image_shape=(28, 168), max_digits=6,
                 dropout=0.3, context=3, *, mixed_precision="auto", augment=True, **backbone_options):
        super().__init__(backbone, depth, pretrained, image_shape, max_digits, mixed_precision, augment,
                         backbone_options)
        self.max_digits = max_digits
        with torch.no_grad():
            was_training = self.backbone.training
            columns = self.backbone.eval()(torch.zeros(1, 1, *self.image_shape)).shape[-1]
            self.backbone.train(was_training)
        if columns < 2 * max_digits - 1:
            raise ValueError(f"The {backbone} backbone reads {self.image_shape[0]}x{self.image_shape[1]} images "
                             f"into {columns} columns, too few to read {max_digits} digits anywhere (at least "
                             f"{2 * max_digits - 1}): use digitnet or resnet, or wider images.")
        self.reader = DigitReader(self.backbone.out_channels, dropout=dropout, context=context)
        self.sum_layer = ReadingSumLayer(max_digits)

    def forward(self, images):
        return in_float32(self.reader, self.features(images))

    def sum_log_probs(self, column_logits):
        """Exact log-probabilities of each sum, from the column logits."""
        return self.sum_layer(column_logits)


def folded(network):
    """A copy of ``network`` for prediction: eval mode, each conv+BatchNorm pair folded into one conv.

    The copy keeps the network's class and forward pass; only its backbone's
    layers are merged, which saves a pass over every activation (about 16%
    of DigitNet's CPU prediction time). A backbone that torch.fx cannot trace
    stays as it is.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitHeadsNet, folded
    >>> net = DigitHeadsNet(mixed_precision="no").eval()
    >>> images = torch.randint(0, 256, (2, 28, 112), dtype=torch.uint8)
    >>> torch.allclose(folded(net)(images), net(images), atol=1e-4)
    True
    """
    copied = copy.deepcopy(unwrap(network)).eval()
    try:
        copied.backbone = fuse(copied.backbone)
    except Exception:  # torch.fx raises many kinds of errors for code it cannot trace
        pass
    return copied
