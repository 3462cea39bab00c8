"""Input and parameter checks, run before any training time is spent."""

import functools
import numbers

import numpy as np
import torch

from .datasets import DIGIT_SIZE


def check_images(X, *, expected_shape=None):
    """Validate a stack of grey images; return it as (n, 1, H, W) without copying uint8 data.

    Integer images must lie in 0-255 and become uint8; float images must lie
    in [0, 1] and become float32.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, 1, H, W)
        The images.
    expected_shape : tuple of int or None, default=None
        (H, W) the images must have, e.g. those seen in fit.

    Returns
    -------
    X : ndarray of shape (n, 1, H, W), dtype uint8 or float32
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if hasattr(X, "toarray") or hasattr(X, "todense"):
        raise TypeError("Sparse input is not supported: pass the images as a dense array, e.g. X.toarray().")
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as error:
        raise TypeError(f"Images must be a numeric array of shape (n, H, W); could not convert: {error}") from error
    if np.iscomplexobj(X):
        raise ValueError("Complex data not supported: images must hold real pixel values.")
    if X.dtype == bool or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise TypeError(
            f"Images must be a numeric array (uint8 0-255 or floats in [0, 1]), got dtype {X.dtype}."
        )
    if X.ndim == 4 and X.shape[1] == 1:
        pass
    elif X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 4 and X.shape[-1] in (3, 4):
        raise ValueError(
            f"Images have shape {X.shape}, which looks like colour images with the channel last; "
            "convert them to grey first, e.g. X.mean(axis=-1), and pass shape (n, H, W)."
        )
    elif X.ndim == 4:
        raise ValueError(f"Images must have one channel: shape (n, 1, H, W); got {X.shape}.")
    elif X.ndim == 2:
        raise ValueError(
            f"Images must be 3-D, (n, H, W), got a 2-D array of shape {X.shape}. Flattened rows "
            "must be reshaped: X.reshape(len(X), 28, -1) for 28-pixel-high images."
        )
    else:
        raise ValueError(f"Images must have shape (n, H, W) or (n, 1, H, W); got {X.shape}.")
    if len(X) == 0:
        raise ValueError("Found an empty set of images (0 samples); at least one is required.")
    height, width = X.shape[2:]
    if height < DIGIT_SIZE or width < DIGIT_SIZE:
        raise ValueError(
            f"Images of {height}x{width} pixels are smaller than one {DIGIT_SIZE}x{DIGIT_SIZE} digit."
        )
    if expected_shape is not None and (height, width) != tuple(expected_shape):
        raise ValueError(
            f"Images are {height}x{width} pixels but the model was fitted on "
            f"{expected_shape[0]}x{expected_shape[1]} images; resize them first."
        )
    if X.dtype == np.uint8:
        return X
    if np.issubdtype(X.dtype, np.integer):
        if X.min() < 0 or X.max() > 255:
            raise ValueError(
                f"Integer pixel values must lie in 0-255; found values from {X.min()} to {X.max()}."
            )
        return X.astype(np.uint8)
    if not np.isfinite(X).all():
        raise ValueError("Images contain NaN or infinite pixel values.")
    low, high = X.min(), X.max()
    if low < 0 or high > 1:
        hint = " Divide 0-255 images by 255, or pass them as uint8." if high <= 255 and low >= 0 else ""
        raise ValueError(f"Float pixel values must lie in [0, 1]; found values from {low} to {high}.{hint}")
    return X.astype(np.float32, copy=False)


def _check_integral(y, what):
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype == object or y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"{what} must be integers, got an array of dtype {y.dtype}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise ValueError(f"{what} must be whole numbers; found non-integer values such as "
                             f"{y[~np.isfinite(y) | (y != np.round(y))].ravel()[0]}.")
    return y.astype(np.int64)


def encode_targets(y, n_samples, n_digits):
    """Validate sum or digit labels and encode them as training targets.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_digits)
        Sums 0..9 * n_digits, or the digits 0-9 of each image.

    Returns
    -------
    targets : ndarray of shape (n_samples, n_digits + 2), dtype int64
        The digits (-1 where only the sum is known), the sum, and a zero
        "synthetic" flag.
    """
    if y is None:
        raise ValueError("y is required: the sums (n,) or the digits (n, n_digits) of the images.")
    y = _check_integral(y, "Labels")
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} images but y has {len(y)} labels; they must match.")
    targets = np.full((n_samples, n_digits + 2), -1, dtype=np.int64)
    targets[:, -1] = 0
    if y.ndim == 1:
        max_sum = 9 * n_digits
        if y.min() < 0 or y.max() > max_sum:
            raise ValueError(
                f"Sum labels must lie in 0..{max_sum} for n_digits={n_digits}; found values from "
                f"{y.min()} to {y.max()}."
            )
        targets[:, -2] = y
    elif y.ndim == 2:
        if y.shape[1] != n_digits:
            raise ValueError(
                f"Digit labels have {y.shape[1]} columns but n_digits={n_digits}: pass shape "
                f"(n, {n_digits}), or set n_digits to match."
            )
        if y.min() < 0 or y.max() > 9:
            raise ValueError(f"Digit labels must lie in 0..9; found values from {y.min()} to {y.max()}.")
        targets[:, :n_digits] = y
        targets[:, -2] = y.sum(axis=1)
    else:
        raise ValueError(f"y must have shape (n,) for sums or (n, {n_digits}) for digits; got {y.shape}.")
    return targets


def target_sums(y, n_digits):
    """The sums of labels given as sums (n,) or digits (n, n_digits)."""
    return encode_targets(y, len(y), n_digits)[:, -2]


def check_fraction(value, name):
    """Raise ValueError unless ``value`` is a real number in [0, 1)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")


def check_positive_int(value, name, *, allow_zero=False):
    """Raise ValueError unless ``value`` is an integer >= 1 (>= 0 with ``allow_zero``)."""
    low = 0 if allow_zero else 1
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")


MIXED_PRECISION = ("auto", "bf16", "no")


def check_mixed_precision(value):
    """Raise ValueError unless ``value`` is one of :data:`MIXED_PRECISION`."""
    if not isinstance(value, str) or value not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {list(MIXED_PRECISION)}, got {value!r}.")


def autocast_dtype(mixed_precision, device):
    """The dtype the backbone autocasts to on ``device``, or None for float32.

    'auto' takes bfloat16 where the hardware computes it natively: CUDA GPUs
    that support it, and CPUs with AVX512-BF16 or AMX (on 2 such cores, DigitNet
    trained 1.5x and predicted 1.8x faster, with the same losses). Called for
    every batch, so the hardware probes are cached.
    """
    if mixed_precision == "no":
        return None
    if mixed_precision == "bf16":
        return torch.bfloat16
    native = _cuda_computes_bf16() if torch.device(device).type == "cuda" else _cpu_computes_bf16()
    return torch.bfloat16 if native else None


@functools.cache
def _cuda_computes_bf16():
    return torch.cuda.is_bf16_supported()


@functools.cache
def _cpu_computes_bf16():
    # Elsewhere oneDNN emulates bfloat16, slower than float32.
    return any(getattr(torch.cpu, probe, lambda: False)()
               for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def resolve_device(device):
    """Turn 'auto', 'cpu', 'cuda' or 'cuda:N' into an available device string.

    Raises
    ------
    ValueError
        For an unknown device, or CUDA asked for where no GPU exists.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    if not isinstance(device, str):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}.")
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}.") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but no CUDA GPU is available here. Use device='cpu', or device='auto' "
            "to take a GPU only when there is one."
        )
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}.")
    return device
