"""Random distortions of digit slots: the training augmentation and the synthetic renderer share them.

Every slot of an image (one digit each) gets its own stroke-width change,
rotation, scale, shift and, optionally, a smooth elastic warp; the image gets
background noise. :class:`SlotAugment` applies them to training batches inside
the network (and does nothing in eval mode), with the ranges of
:data:`AUGMENTATION`; :class:`~sk_digitsum.SyntheticDigitsGenerator` renders
with its own.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# Per-slot distortions applied to training batches when ``augment=True``.
# Chosen on held-out embedded digits (benchmarks/tune_defaults.py): these
# ranges kept the tight accuracy of milder ones and lifted accuracy on
# scanned-like images from 73% to 92%. A 1-pixel elastic distortion read
# scanned-like images better on each of five folds (98.82% against 98.63%
# per digit) and tight ones as well (99.24% against 99.27%;
# benchmarks/fold_sweep.py).
AUGMENTATION = dict(rotation=15.0, scale=(0.8, 1.2), shift=(4.0, 2.5), stroke=0.8, noise=0.12, elastic=1.0)

# The column reader's ranges (``max_digits`` set), milder in rotation, scale and shift. On folds of the
# embedded bank, milder rotation and shifts read more sums on each of three seeds (96.75% against 95.92%
# on average; six digits 94.57% against 93.37%), and milder scales on top of them read more six-digit
# sums at each of three more (1.7-1.9 points; benchmarks/digits_anywhere.py). Not by sparing the digits
# that straddle two slots the tears of slot warps drawn apart: one tear-free warp of the canvas read no
# more there.
FREE_LAYOUT_AUGMENTATION = {**AUGMENTATION, "rotation": 8.0, "scale": (0.9, 1.1), "shift": (2.0, 1.5)}


def augmentation_ranges(augment, defaults=AUGMENTATION):
    """The distortion ranges of an ``augment`` setting: None for False, ``defaults`` for True.

    Parameters
    ----------
    augment : bool or dict
        A dict replaces some of the ranges of ``defaults``.
    defaults : dict, default=AUGMENTATION
        The ranges that True stands for: :data:`AUGMENTATION` or
        :data:`FREE_LAYOUT_AUGMENTATION`.

    Raises
    ------
    ValueError
        For a dict with keys that name no range.

    Examples
    --------
    >>> from sk_digitsum.nn.augment import augmentation_ranges
    >>> augmentation_ranges({"elastic": 0.0})["elastic"], augmentation_ranges(False)
    (0.0, None)
    """
    if augment is False:
        return None
    if augment is True:
        return dict(defaults)
    if not isinstance(augment, dict) or set(augment) - set(AUGMENTATION):
        raise ValueError(f"augment must be True, False or a dict with some of the keys {sorted(AUGMENTATION)}; "
                         f"got {augment!r}.")
    return {**defaults, **augment}


class SlotAugment(nn.Module):
    """Distort each digit slot of a training batch; pass batches through unchanged in eval mode.

    Part of every network the estimators train, so that training,
    validation, prediction and the teacher of unlabelled images share one
    forward pass, and only training sees distorted digits.

    Parameters
    ----------
    n_digits : int
        Digit slots side by side; an image width that does not split into
        them is left undistorted.
    augment : bool or dict, default=True
        True distorts with the ranges of ``defaults``; a dict replaces some
        of them (``{"elastic": 0.0}``); False turns distortion off.
    defaults : dict, default=AUGMENTATION
        The ranges that True stands for; the column reader's network passes
        :data:`FREE_LAYOUT_AUGMENTATION`.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn.augment import SlotAugment
    >>> augment = SlotAugment(n_digits=4)
    >>> batch = torch.rand(2, 1, 28, 112)
    >>> augment.train()(batch).shape, augment.eval()(batch) is batch
    (torch.Size([2, 1, 28, 112]), True)
    """

    def __init__(self, n_digits, augment=True, defaults=AUGMENTATION):
        super().__init__()
        self.n_digits = n_digits
        self.augment = augment
        self.defaults = defaults
        augmentation_ranges(augment)  # refuses unknown ranges when the network is built

    def forward(self, images):
        """Distort float images (n, 1, H, W) in [0, 1] in training mode; return them as they are otherwise."""
        ranges = augmentation_ranges(self.augment, self.defaults) if self.training else None
        n, _, height, width = images.shape
        if ranges is None or width % self.n_digits:
            return images
        slots = images.view(n, height, self.n_digits, width // self.n_digits).permute(0, 2, 1, 3)
        return distort_slots(slots, **ranges).unsqueeze(1)

    def extra_repr(self):
        shown = "" if self.defaults == AUGMENTATION else f", defaults={self.defaults!r}"
        return f"n_digits={self.n_digits}, augment={self.augment!r}{shown}"


def _random(draw, *shape, generator, device):
    # torch.compile traces torch.rand(..., generator=None) as an error: the argument is left out when None.
    options = {"device": device} if generator is None else {"device": device, "generator": generator}
    return draw(*shape, **options)


def _uniform(n, low, high, generator, device):
    return _random(torch.rand, n, generator=generator, device=device) * (high - low) + low


def distort_slots(slots, *, rotation, scale, shift, stroke, noise, elastic=0.0, generator=None):
    """Distort each digit slot, then put the slots back side by side.

    Every slot gets its own random stroke-width change and affine warp; a
    shifted digit may cross into its neighbour's slot, where strokes merge
    by their maximum. Gaussian noise of a random level is added last.

    Parameters
    ----------
    slots : torch.Tensor of shape (n_samples, n_digits, h, w)
        Float images in [0, 1], one per slot.
    rotation, scale, shift, stroke, noise, elastic
        As in :class:`SyntheticDigitsGenerator`.
    generator : torch.Generator or None, default=None
        Source of randomness; None uses torch's global one.

    Returns
    -------
    images : torch.Tensor of shape (n_samples, h, w * n_digits)
        Float images in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn.augment import distort_slots
    >>> slots = torch.rand(2, 4, 28, 28)
    >>> distort_slots(slots, rotation=10.0, scale=(0.9, 1.1), shift=(2.0, 1.0), stroke=0.5, noise=0.05).shape
    torch.Size([2, 28, 112])
    """
    n_samples, n_digits, height, width = slots.shape
    n = n_samples * n_digits
    device = slots.device
    digits = slots.reshape(n, 1, height, width)

    # Thicker strokes are a dilation, thinner an erosion (a max filter of -x).
    # MNIST strokes are 2-3 pixels wide, so erosion soon erases them: it gets
    # half the strength.
    strength = _uniform(n, -stroke / 2, stroke, generator, device).view(n, 1, 1, 1)
    sign = torch.where(strength >= 0, 1.0, -1.0)
    digits = torch.lerp(digits, sign * _max_filter3(sign * digits), strength.abs())

    # Each digit is warped onto a patch wider than its slot, so a shift can
    # carry it into the neighbouring slot; grid_sample reads zeros outside it.
    pad = math.ceil(shift[0]) + 2
    padded_width = width + 2 * pad
    angle = _uniform(n, -1, 1, generator, device) * math.radians(rotation)
    inv_scale = 1 / _uniform(n, scale[0], scale[1], generator, device)
    # Grid coordinates run over [-1, 1]: a pixel is 2/size of them.
    shift_x = _uniform(n, -1, 1, generator, device) * shift[0] * 2 / padded_width
    shift_y = _uniform(n, -1, 1, generator, device) * shift[1] * 2 / height
    aspect = height / padded_width
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    theta = torch.stack([
        # The first row maps to the coordinates of the narrower source slot.
        torch.stack([cos, -sin * aspect, -shift_x], dim=1) * (padded_width / width),
        torch.stack([sin / aspect, cos, -shift_y], dim=1),
    ], dim=1)
    grid = _affine_grid(theta, height, padded_width)
    if elastic > 0:
        # A smooth random displacement field: Gaussian noise on a coarse 4x4
        # lattice, upsampled; std ``elastic`` pixels at the lattice points.
        coarse = _random(torch.randn, n, 2, 4, 4, generator=generator, device=device) * elastic
        field = F.interpolate(coarse, size=(height, padded_width), mode="bicubic", align_corners=True)
        scale_to_grid = torch.tensor([2 / width, 2 / height], device=device)
        grid = grid + field.permute(0, 2, 3, 1) * scale_to_grid
    patches = F.grid_sample(digits, grid, align_corners=False).view(n_samples, n_digits, height, padded_width)

    canvas = torch.zeros(n_samples, height, width * n_digits + 2 * pad, device=device)
    for position in range(n_digits):
        window = canvas[:, :, position * width: position * width + padded_width]
        window.clamp_(min=patches[:, position])  # in place, the maximum of the two
    return add_noise(canvas[:, :, pad: pad + width * n_digits], noise, generator)


def add_noise(images, noise, generator=None):
    """Gaussian background noise of a random level up to ``noise`` per image, in place; clipped to [0, 1].

    Parameters
    ----------
    images : torch.Tensor of shape (n, h, w)
        Float images in [0, 1].
    noise : float
        Largest standard deviation of the noise.
    generator : torch.Generator or None, default=None

    Returns
    -------
    images : torch.Tensor of shape (n, h, w)
    """
    sigma = _uniform(len(images), 0, noise, generator, images.device).view(-1, 1, 1)
    images.addcmul_(sigma, _random(torch.randn, *images.shape, generator=generator, device=images.device))
    return images.clamp_(0, 1)


def _max_filter3(images):
    """3x3 maximum filter, as two separable passes of shifted maxima."""
    padded = F.pad(images, (1, 1, 1, 1))
    rows = torch.maximum(torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def _affine_grid(theta, height, width):
    """The sampling grid of F.affine_grid (align_corners=False), by broadcasting.

    Several times faster on CPUs than F.affine_grid's batched product with its
    inner dimension of 3.
    """
    ys = ((torch.arange(height, dtype=theta.dtype, device=theta.device) * 2 + 1) / height - 1)[None, :, None]
    xs = ((torch.arange(width, dtype=theta.dtype, device=theta.device) * 2 + 1) / width - 1)[None, None, :]
    axes = []
    for axis in range(2):
        x_weight, y_weight, offset = (theta[:, axis, column, None, None] for column in range(3))
        axes.append(torch.addcmul(torch.addcmul(offset, y_weight, ys), x_weight, xs))
    # Stacked rather than written into slices of one tensor: torch.compile traces no out= into a strided view.
    return torch.stack(axes, dim=-1)
