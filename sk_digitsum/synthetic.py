"""Synthetic multi-digit images with known digit labels."""

import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from ._validation import check_range, digit_row_sums
from .datasets import DIGIT_SIZE, digit_range, is_free_layout, place_digits, sample_digits
from .nn.augment import add_noise, distort_slots

# Images rendered at once: a chunk's float working set then stays in the CPU
# cache, which makes rendering twice as fast as with chunks of thousands.
_CHUNK = 256
_PROGRESS_FROM = 20_000


class SyntheticDigitsGenerator(BaseEstimator):
    """Make labelled multi-digit images from a bank of single digits.

    Each image holds ``n_digits`` random bank digits side by side, in fixed
    28-pixel slots, or, with a range of ``n_digits`` or a wider canvas, a
    random number of them at free positions (as
    :func:`~sk_digitsum.datasets.make_digit_sums` places them). Every digit
    is rotated, rescaled, shifted (possibly into its neighbour's slot, so
    strokes may touch), its strokes thickened or thinned, and the whole image
    gets background noise. Unlike real data, every synthetic image comes with
    its digits, so it can train the digit heads directly.

    This is a data *source*, not a transformer: use it to make training sets
    (or pass it as ``synthetic=`` to an estimator, which draws fresh samples
    every epoch), never as a Pipeline step. A step that distorted images would
    distort the test images at predict time too.

    Parameters
    ----------
    n_digits : int or (int, int), default=4
        Digits per image, or the range ``(low, high)`` their number is drawn from.
    width : int or None, default=None
        Canvas width in pixels; None: 28 times the most digits.
    rotation : float, default=12.0
        Largest rotation, in degrees, either way.
    scale : tuple of float, default=(0.85, 1.1)
        Range of the random scale factor.
    shift : tuple of float, default=(3.0, 2.0)
        Largest horizontal and vertical shift, in pixels, either way.
    stroke : float, default=0.6
        Strength of the random stroke-width change: each digit's strokes are
        blended with their dilation (thicker, by a factor drawn up to
        ``stroke``) or their erosion (thinner, up to ``stroke / 2``).
    noise : float, default=0.08
        Largest standard deviation of the Gaussian background noise, as a
        fraction of full intensity.
    elastic : float, default=0.0
        Standard deviation, in pixels, of a smooth random displacement of
        each digit's strokes (an elastic distortion); 0 turns it off.
    random_state : int, RandomState instance or None, default=None
        Seeds the stream of samples: the same value gives the same samples.
    verbose : int, default=1
        Show a progress bar when making 20,000 images or more; 0 silences it.

    Attributes
    ----------
    images_ : ndarray of shape (n_bank, 28, 28)
        The digit bank seen in :meth:`fit`.
    labels_ : ndarray of shape (n_bank,)
        Its labels.
    rng_ : numpy.random.RandomState
        The stream that :meth:`sample` draws from when no ``random_state``
        is given to it; successive calls give new samples.

    See Also
    --------
    sk_digitsum.datasets.make_digit_sums : Undistorted composition.

    Examples
    --------
    >>> from sk_digitsum import SyntheticDigitsGenerator
    >>> from sk_digitsum.datasets import load_digit_bank
    >>> gen = SyntheticDigitsGenerator(random_state=0).fit(*load_digit_bank())
    >>> X, sums, digits = gen.sample(8)
    >>> X.shape, X.dtype, bool((digits.sum(axis=1) == sums).all())
    ((8, 28, 112), dtype('uint8'), True)
    """

    def __init__(self, n_digits=4, width=None, rotation=12.0, scale=(0.85, 1.1), shift=(3.0, 2.0), stroke=0.6,
                 noise=0.08, elastic=0.0, random_state=None, verbose=1):
        self.n_digits = n_digits
        self.width = width
        self.rotation = rotation
        self.scale = scale
        self.shift = shift
        self.stroke = stroke
        self.noise = noise
        self.elastic = elastic
        self.random_state = random_state
        self.verbose = verbose

    _parameter_constraints = {
        "n_digits": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "width": [Interval(numbers.Integral, DIGIT_SIZE, None, closed="left"), None],
        "rotation": [Interval(numbers.Real, 0, None, closed="left")],
        "scale": [tuple, list],
        "shift": [tuple, list],
        "stroke": [Interval(numbers.Real, 0, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "elastic": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _check_params(self):
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        check_range(self.scale, "scale", low=0, low_inclusive=False)
        check_range(self.shift, "shift", low=0, ordered=False)
        is_free_layout(self.n_digits, self.image_shape[1])  # checks the digits fit the canvas

    @property
    def image_shape(self):
        """(H, W) of the images made: 28 high, ``width`` (or 28 times the most digits) wide."""
        return DIGIT_SIZE, self.width or DIGIT_SIZE * digit_range(self.n_digits)[1]

    def fit(self, images, labels):
        """Store the digit bank.

        Parameters
        ----------
        images : array-like of shape (n_bank, 28, 28) or (n_bank, 784)
            Single digits, 0-255 (uint8 or floats in that range).
        labels : array-like of shape (n_bank,)
            Their digits, 0-9.

        Returns
        -------
        self : SyntheticDigitsGenerator
            The fitted generator.
        """
        self._check_params()
        images = np.asarray(images)
        if labels is None:
            raise ValueError("The digit bank has no labels: pass fit(images, labels) with labels 0-9.")
        labels = np.asarray(labels)
        if images.size == 0 or len(images) == 0:
            raise ValueError("The digit bank is empty: pass at least one image per digit.")
        if images.ndim == 2 and images.shape[1] == DIGIT_SIZE * DIGIT_SIZE:
            images = images.reshape(-1, DIGIT_SIZE, DIGIT_SIZE)
        if images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
            raise ValueError(f"Bank images must have shape (n, 28, 28) or (n, 784), got {images.shape}.")
        if labels.shape != (len(images),):
            raise ValueError(f"Expected one label per bank image ({len(images)}), got labels of shape {labels.shape}.")
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
            raise ValueError("Bank labels must be integers 0-9.")
        if not np.issubdtype(images.dtype, np.number) or not np.isfinite(images).all():
            raise ValueError("Bank images must be finite numbers 0-255.")
        self.images_ = np.clip(images, 0, 255).astype(np.uint8)
        self.labels_ = labels.astype(np.int64)
        # A private stream: clones with one seed agree, and numpy's global state is left alone.
        shared = isinstance(self.random_state, np.random.RandomState)
        self.rng_ = self.random_state if shared else np.random.RandomState(self.random_state)
        return self

    def sample(self, n_samples, random_state=None):
        """Draw labelled synthetic images.

        Parameters
        ----------
        n_samples : int
            Number of images.
        random_state : int, RandomState instance or None, default=None
            ``None`` continues the generator's own stream (seeded by its
            ``random_state``); a value gives a draw that depends on it alone.

        Returns
        -------
        X : ndarray of shape (n_samples, 28, width), dtype uint8
        sums : ndarray of shape (n_samples,)
        digits : ndarray of shape (n_samples, high)
            The digits left to right; in a free layout, -1 past the last.
        """
        check_is_fitted(self, "images_")
        self._check_params()
        check_scalar(n_samples, "n_samples", numbers.Integral, min_val=0)
        rng = self.rng_ if random_state is None else check_random_state(random_state)
        indices, offsets = sample_digits(self.labels_, n_samples, self.n_digits, self.image_shape[1], rng)
        digits = np.where(indices >= 0, self.labels_[indices], -1)
        return self.render(indices, offsets=offsets, random_state=rng), digit_row_sums(digits), digits

    def render(self, indices, offsets=None, random_state=None):
        """Render distorted images of given bank digits.

        Parameters
        ----------
        indices : array-like of shape (n_samples, n_digits)
            Index into the bank of each digit, left to right; -1 for no
            digit, where ``offsets`` are given.
        offsets : array-like of shape (n_samples, n_digits) or None, default=None
            Left edge of each digit on a canvas of ``image_shape``, in pixels
            (:func:`~sk_digitsum.datasets.sample_layouts`); None puts the
            digits in 28-pixel slots side by side.
        random_state : int, RandomState instance or None, default=None
            As in :meth:`sample`.

        Returns
        -------
        X : ndarray of shape (n_samples, 28, 28 * n_digits), dtype uint8
            Or (n_samples, 28, width) with ``offsets``.
        """
        check_is_fitted(self, "images_")
        self._check_params()
        rng = self.rng_ if random_state is None else check_random_state(random_state)
        indices = np.asarray(indices)
        n_bank, lowest = len(self.images_), 0 if offsets is None else -1
        if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer) or (
                indices.size and (indices.min() < lowest or indices.max() >= n_bank)):
            raise ValueError(f"indices must be an (n_samples, n_digits) array of bank indices in 0..{n_bank - 1}; "
                             f"got shape {indices.shape}, dtype {indices.dtype}.")
        if offsets is not None:
            offsets = np.asarray(offsets)
            if offsets.shape != indices.shape or (offsets[indices >= 0] + DIGIT_SIZE > self.image_shape[1]).any():
                raise ValueError(f"offsets must have the shape of indices, {indices.shape}, and keep every digit "
                                 f"on the {self.image_shape[1]}-pixel canvas.")
        seed = int(rng.randint(2**31 - 1))
        width = DIGIT_SIZE * indices.shape[1] if offsets is None else self.image_shape[1]
        images = np.empty((len(indices), DIGIT_SIZE, width), dtype=np.uint8)
        distortions = dict(rotation=self.rotation, scale=self.scale, shift=self.shift, stroke=self.stroke,
                           elastic=self.elastic)

        def render_chunk(start):
            # A seed per chunk: the images do not depend on which thread draws them.
            generator = torch.Generator().manual_seed(seed + start)
            rows = slice(start, start + _CHUNK)
            if offsets is None:
                digits = torch.from_numpy(self.images_[indices[rows]]).float().div_(255)
                chunk = distort_slots(digits, **distortions, noise=self.noise, generator=generator)
            else:
                # Each digit distorted on its own 28-pixel patch, then placed on the canvas.
                present = indices[rows] >= 0
                patches = torch.from_numpy(self.images_[indices[rows][present]]).float().div_(255)[:, None]
                patches = distort_slots(patches, **distortions, noise=0.0, generator=generator)
                numbered = np.full(present.shape, -1)
                numbered[present] = np.arange(len(patches))
                chunk = add_noise(torch.from_numpy(place_digits(patches.numpy(), numbered, offsets[rows], width)),
                                  self.noise, generator)
            images[rows] = chunk.mul_(255).round_().to(torch.uint8).numpy()
            return len(chunk)

        # None lets tqdm draw the bar on a terminal only: its carriage returns stay out of piped logs.
        hide_bar = None if self.verbose and len(indices) >= _PROGRESS_FROM else True
        # Random draws run on one core; chunks on several threads keep every core busy
        # (torch releases the GIL), a third faster on 2 cores than one chunk at a time.
        with ThreadPoolExecutor(max_workers=torch.get_num_threads()) as pool, \
                tqdm(total=len(indices), desc="synthetic images", unit="img", disable=hide_bar) as bar:
            for n_rendered in pool.map(render_chunk, range(0, len(indices), _CHUNK)):
                bar.update(n_rendered)
        return images
