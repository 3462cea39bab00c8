"""Feature extractors: each maps (N, 1, H, W) images to an (N, C, h, w) map.

Every backbone has an ``out_channels`` attribute and is built by
:func:`build_backbone` from a name and a depth, as torchvision builds its
ResNets from one builder with the depth as data.
"""

import numbers
import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn


def _conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DigitNet(nn.Module):
    """Small, fast all-convolutional backbone; the package default.

    A space-to-depth stem (each 2x2 block of pixels becomes 4 channels) halves
    the resolution at no loss of information, so the first convolutions run
    on a quarter of the pixels; then ``depth`` 3x3 conv-BN-ReLU layers in
    ``stages`` equal stages, each stage after the first behind a 2x2 max-pool
    and with twice the channels. With the defaults a 28x112 image becomes a
    3x14 map of 128 channels.

    Three stages rather than two: the third pooling lets the last layers see
    a whole digit and its surroundings. Trained on each of five folds of the
    embedded digits, depth 6 in three stages read held-out digits with 99.12%
    accuracy against 98.95% for depth 4 in two, for 1.2 times the CPU time
    (docs/defaults.md).

    Parameters
    ----------
    depth : int, default=6
        Number of convolutional layers, at least ``stages``.
    width : int, default=32
        Channels of the first stage; stage ``k`` has ``width * 2 ** k``.
    stages : int, default=3
        Resolution stages; each halves the map's height and width.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitNet
    >>> DigitNet(depth=6, width=16)(torch.zeros(1, 1, 28, 112)).shape
    torch.Size([1, 64, 3, 14])
    >>> DigitNet(depth=4, width=16, stages=2)(torch.zeros(1, 1, 28, 112)).shape
    torch.Size([1, 32, 7, 28])
    """

    def __init__(self, depth=6, width=32, stages=3):
        super().__init__()
        for name, value in [("depth", depth), ("width", width)]:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DigitNet's {name} must be an integer >= 1, got {value!r}.")
        if not 1 <= stages <= depth:
            raise ValueError(f"DigitNet needs 1 to depth={depth} stages, got stages={stages}; "
                             f"pass module__stages={min(max(stages, 1), depth)} or a larger depth.")
        stage_starts = [stage * depth // stages for stage in range(1, stages)]
        layers = [nn.PixelUnshuffle(2)]
        channels = 4
        for index in range(depth):
            if index in stage_starts:
                layers.append(nn.MaxPool2d(2))
            out = width * 2 ** sum(index >= start for start in stage_starts)
            layers.append(_conv_bn_relu(channels, out))
            channels = out
        self.features = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x):
        return self.features(x)


class ConvNet(nn.Module):
    """The seed report's 4-layer baseline: Conv, MaxPool, Conv, MaxPool, Flatten, Dense.

    The final Dense layer of the baseline is the estimator's head. The flat
    features come back as an (N, C, 1, 1) map so that any head can sit on top.

    Parameters
    ----------
    image_shape : tuple of int
        (H, W) of the input images; the Dense layer's size depends on it.
    hidden_units : int, default=128
        Width of the Dense layer.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import ConvNet
    >>> ConvNet((28, 112))(torch.zeros(2, 1, 28, 112)).shape
    torch.Size([2, 128, 1, 1])
    """

    def __init__(self, image_shape, hidden_units=128):
        super().__init__()
        height, width = image_shape
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 4) * (width // 4), hidden_units), nn.ReLU(inplace=True),
        )
        self.out_channels = hidden_units

    def forward(self, x):
        return self.features(x)[:, :, None, None]


# Depth -> (block class in torchvision.models.resnet, blocks per stage). Names, not classes:
# importing torchvision's models costs seconds, so it happens only when a ResNet is built.
_RESNET_BLOCKS = {
    18: ("BasicBlock", [2, 2, 2, 2]),
    34: ("BasicBlock", [3, 4, 6, 3]),
    50: ("Bottleneck", [3, 4, 6, 3]),
    101: ("Bottleneck", [3, 4, 23, 3]),
}


def _imagenet_weights(depth):
    """torchvision's ImageNet weights entry for a ResNet depth."""
    from torchvision.models import resnet

    return getattr(resnet, f"ResNet{depth}_Weights").IMAGENET1K_V1


class ResNetFeatures(nn.Module):
    """A torchvision ResNet trunk for one-channel small images.

    The stem keeps torchvision's 7x7 convolution but with one input channel
    and stride 1, and drops the max-pool: on 28-pixel digits the usual 4x
    downsampling in the stem would leave the last stage a 1-pixel-high map.
    """

    def __init__(self, depth):
        super().__init__()
        from torchvision.models import resnet

        block_name, layers = _RESNET_BLOCKS[depth]
        block = getattr(resnet, block_name)
        trunk = resnet.ResNet(block, layers)
        trunk.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=1, padding=3, bias=False)
        self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu)
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4
        self.out_channels = 512 * block.expansion

    def forward(self, x):
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


def _imagenet_to_features(state_dict):
    """Adapt a torchvision ImageNet ResNet state dict to :class:`ResNetFeatures`.

    A grey image fed as three equal RGB channels meets the sum of the three
    RGB filters, so summing conv1 over its input channels is exact. The 1000-way
    classifier is dropped.
    """
    adapted = {}
    for key, value in state_dict.items():
        if key.startswith("fc."):
            continue
        if key == "conv1.weight":
            key, value = "stem.0.weight", value.sum(dim=1, keepdim=True)
        elif key.startswith("bn1."):
            key = "stem.1." + key[len("bn1."):]
        adapted[key] = value
    return adapted


def _load_state_dict_file(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"Could not read weights from {path}: {error}") from error
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (found {type(state).__name__}).")
    return state


def _imagenet_state_dict(depth):
    weights = _imagenet_weights(depth)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if cached.is_file():
        return _load_state_dict_file(cached)
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except Exception as error:  # no network: urllib raises URLError, sockets OSError
        raise RuntimeError(
            f"Could not download ImageNet weights for ResNet{depth} ({error}). Offline, download "
            f"{weights.url} elsewhere and either copy it to {cached} or pass pretrained='<path to the file>'."
        ) from error


def make_resnet(depth=18, pretrained=False):
    """Build a one-channel ResNet trunk, optionally with pretrained weights.

    Parameters
    ----------
    depth : {18, 34, 50, 101}, default=18
        The ResNet depth.
    pretrained : False, "imagenet" or path-like, default=False
        ``"imagenet"`` loads torchvision's ImageNet weights (from the
        torchvision cache, or downloaded); a path loads a saved state dict,
        either torchvision's ImageNet one or one of this trunk.

    Returns
    -------
    trunk : ResNetFeatures

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import make_resnet
    >>> make_resnet(18)(torch.zeros(1, 1, 28, 112)).shape
    torch.Size([1, 512, 4, 14])
    """
    check_backbone("resnet", depth, pretrained)
    trunk = ResNetFeatures(depth)
    if pretrained is False or pretrained is None:
        return trunk
    if isinstance(pretrained, str) and pretrained == "imagenet":
        state = _imagenet_state_dict(depth)
    else:
        state = _load_state_dict_file(pretrained)
    if "fc.weight" in state or "conv1.weight" in state:
        state = _imagenet_to_features(state)
    try:
        trunk.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"The pretrained weights do not fit a ResNet{depth} trunk: {error}") from error
    return trunk


def _build_convnet(depth, pretrained, image_shape, **options):
    return ConvNet(image_shape, **options)


def _build_digitnet(depth, pretrained, image_shape, **options):
    return DigitNet(depth, **options)


def _build_resnet(depth, pretrained, image_shape, **options):
    if options:
        raise TypeError(f"The resnet backbone takes no options; got {sorted(options)}.")
    return make_resnet(depth, pretrained)


class Backbone(NamedTuple):
    """A registry entry: how to build a backbone and which depths and weights it has."""

    builder: object
    default_depth: int
    depths: object
    accepts_weights: bool
    summary: str


# A new backbone is one entry here: the estimators' checks and docstrings read this registry.
BACKBONES = {
    "digitnet": Backbone(_build_digitnet, 6, range(1, 17), False,
                         "the small fast default (:class:`~sk_digitsum.nn.DigitNet`), depth 1-16 conv layers"),
    "convnet": Backbone(_build_convnet, 4, (4,), False,
                        "the seed report's 4-layer baseline (:class:`~sk_digitsum.nn.ConvNet`)"),
    "resnet": Backbone(_build_resnet, 18, tuple(_RESNET_BLOCKS), True,
                       "torchvision's ResNet 18, 34, 50 or 101 adapted to one channel and small images"),
}


def describe_backbones(indent=8):
    """One line per registered backbone, for the estimators' docstrings."""
    return "\n".join(f'{" " * indent}- ``"{name}"``: {entry.summary}.' for name, entry in BACKBONES.items())


def check_backbone(name, depth, pretrained):
    """Validate a backbone specification; return the depth to use.

    Raises
    ------
    ValueError
        For an unknown name, a depth the backbone does not have, or pretrained
        weights for a backbone that has none.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {sorted(BACKBONES)}.")
    entry = BACKBONES[name]
    depths = entry.depths
    depth = entry.default_depth if depth is None else depth
    if depth not in depths:
        shown = f"{depths.start}-{depths.stop - 1}" if isinstance(depths, range) else list(depths)
        raise ValueError(f"Backbone {name!r} has no depth {depth!r}; choose from {shown}.")
    if pretrained not in (False, None) and not entry.accepts_weights:
        raise ValueError(f"Backbone {name!r} has no pretrained weights; pretrained is for backbone='resnet'.")
    if isinstance(pretrained, str) and pretrained != "imagenet" and not Path(pretrained).is_file():
        raise ValueError(f"pretrained must be False, 'imagenet' or the path of a state dict file; "
                         f"{pretrained!r} is neither an existing file nor 'imagenet'.")
    return depth


def build_backbone(name="digitnet", depth=None, pretrained=False, image_shape=(28, 112), **options):
    """Build a backbone by name.

    Parameters
    ----------
    name : {"digitnet", "convnet", "resnet"}, default="digitnet"
        ``"digitnet"``: the small fast default (:class:`DigitNet`);
        ``"convnet"``: the seed's 4-layer baseline (:class:`ConvNet`);
        ``"resnet"``: torchvision's ResNet adapted to one channel.
    depth : int or None, default=None
        Conv layers for digitnet (1-16, default 6; at least its number
        of stages, 3 by default), ResNet depth (18, 34,
        50 or 101; default 18), 4 for convnet. None takes the default.
    pretrained : False, "imagenet" or path-like, default=False
        Weights for the ResNet trunk; see :func:`make_resnet`.
    image_shape : tuple of int, default=(28, 112)
        (H, W) of the input images.
    **options
        Passed to the backbone: ``width`` and ``stages`` for digitnet, ``hidden_units``
        for convnet.

    Returns
    -------
    backbone : torch.nn.Module
        With an ``out_channels`` attribute.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import build_backbone
    >>> backbone = build_backbone("digitnet")
    >>> backbone(torch.zeros(2, 1, 28, 112)).shape
    torch.Size([2, 128, 3, 14])
    """
    depth = check_backbone(name, depth, pretrained)
    return BACKBONES[name].builder(depth, pretrained, tuple(image_shape), **options)
