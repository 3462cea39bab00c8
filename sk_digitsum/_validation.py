"""Input and parameter checks, run before any training time is spent; their messages name the fix.

Needs numpy alone (torch is imported where a device or a tensor is met), so
that prediction without torch (:mod:`sk_digitsum.runtime`) checks images as the
estimators do.
"""

import numbers
import sys

import numpy as np

# Pixels of one digit, each way: an image of n digits side by side is 28 x 28n.
DIGIT_SIZE = 28


def check_device(device):
    """Turn 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device into the device to use, or raise.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` takes a CUDA GPU when there is one, else the CPU.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        For an unknown device, or CUDA asked for where no GPU exists.

    Examples
    --------
    >>> from sk_digitsum._validation import check_device
    >>> check_device("cpu")
    'cpu'
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    message = f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}."
    if not isinstance(device, str):
        raise ValueError(message)
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ValueError(message) from error
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(message)
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is available here. Use device='cpu', or device='auto' "
                         "to take a GPU only when there is one.")
    return device


class ImageSizeError(ValueError):
    """Images of another size than the model reads; the message names the fix.

    Parameters
    ----------
    shape, expected : tuple of int
        (H, W) of the images given, and of the images the model reads.

    Attributes
    ----------
    digits : tuple of int or None
        How many 28-pixel digits wide the images given and the model's are,
        where both are of one digit's height and of whole digits' width;
        None where the images differ in some other way.
    """

    def __init__(self, shape, expected):
        self.shape, self.expected = tuple(shape), tuple(expected)
        whole_digits = all(height == DIGIT_SIZE and width % DIGIT_SIZE == 0 for height, width in (shape, expected))
        self.digits = (shape[1] // DIGIT_SIZE, expected[1] // DIGIT_SIZE) if whole_digits else None
        if self.digits:
            fix = (f"they hold {self.digits[0]} digits and the model reads {self.digits[1]}: fit a model with "
                   f"n_digits={self.digits[0]} for them")
        else:
            fix = f"resize them to {expected[0]}x{expected[1]} first"
        super().__init__(f"Images are {shape[0]}x{shape[1]} pixels but the model was fitted on "
                         f"{expected[0]}x{expected[1]} images; {fix}.")


def check_images(X, *, expected_shape=None, row_shape=None):
    """Validate a stack of grey images; return it as (n, 1, H, W) without copying uint8 data.

    Integer images must lie in 0-255 and become uint8; float images must lie
    in [0, 1] and become float32.

    Parameters
    ----------
    X : array-like of shape (n, H, W), (n, 1, H, W) or (n, H * W)
        The images; flattened rows are read as images of ``expected_shape``,
        else of ``row_shape``.
    expected_shape : tuple of int or None, default=None
        (H, W) the images must have, e.g. those seen in fit.
    row_shape : tuple of int or None, default=None
        (H, W) of flattened rows where ``expected_shape`` is None.

    Returns
    -------
    X : ndarray of shape (n, 1, H, W), dtype uint8 or float32
    """
    if _is_tensor(X):
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
        height, width = expected_shape or row_shape or (0, 0)
        if X.shape[1] != height * width or not height:
            raise ValueError(
                f"Got a 2-D array of shape {X.shape}: rows of {X.shape[1]} pixels, which cannot be images of "
                f"{height}x{width} ({height * width} pixels). Pass image_shape=(H, W) with H * W == {X.shape[1]}, "
                "or images of shape (n, H, W)."
            )
        X = X.reshape(len(X), 1, height, width)
    elif X.ndim < 2:
        raise ValueError(f"Images must have shape (n, H, W) or (n, 1, H, W); got {X.ndim}-D shape {X.shape}. "
                         "Reshape your data: one image of shape (H, W) is X[None].")
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
        raise ImageSizeError((height, width), tuple(expected_shape))
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


def _is_tensor(data):
    # Without importing torch: a tensor can only have come from a process that imported it.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(data, torch.Tensor)


def _check_integral(y, what):
    if _is_tensor(y):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype == object or y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"{what} must be integers, got an array of dtype {y.dtype}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise ValueError(f"{what} must be whole numbers, not continuous values; found values such as "
                             f"{y[~np.isfinite(y) | (y != np.round(y))].ravel()[0]}.")
    return y.astype(np.int64)


def check_labels(y, n_samples, n_digits, *, require_label=False, free_layout=False):
    """Validate sum or digit labels; -1 marks an unlabelled image.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_digits)
        Sums 0..9 * n_digits, or the digits 0-9 of each image; a sum of -1,
        or a row of -1 digits, for an image without a label.
    n_samples : int
        The number of images they label.
    n_digits : int
        Digits per image; with ``free_layout``, the most digits an image holds.
    require_label : bool, default=False
        Refuse labels that are all -1: nothing to learn from without a
        synthetic source.
    free_layout : bool, default=False
        Images hold up to ``n_digits`` digits: a row of digits lists them
        left to right and ends in -1 (as ``make_digit_sums`` returns them).

    Returns
    -------
    sums : ndarray of shape (n_samples,), dtype int64
        -1 for unlabelled images.
    digits : ndarray of shape (n_samples, n_digits), dtype int64, or None
        None where only the sums are given.
    """
    if y is None:
        raise ValueError("y is required: the sums (n,) or the digits (n, n_digits) of the images.")
    y = _check_integral(y, "Labels")
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} images but y has {len(y)} labels; they must match.")
    if y.ndim == 1:
        max_sum = 9 * n_digits
        if len(y) and (y.min() < -1 or y.max() > max_sum):
            raise ValueError(
                f"Sum labels must lie in 0..{max_sum} for n_digits={n_digits}, or be -1 for an unlabelled "
                f"image; found values from {y.min()} to {y.max()}."
            )
        return _some_labelled(y, require_label), None
    if y.ndim == 2:
        if y.shape[1] != n_digits:
            raise ValueError(
                f"Digit labels have {y.shape[1]} columns but n_digits={n_digits}: pass shape "
                f"(n, {n_digits}), or set n_digits to match."
            )
        if len(y) and (y.min() < -1 or y.max() > 9):
            raise ValueError(f"Digit labels must lie in 0..9, or rows be all -1 for an unlabelled image; found "
                             f"values from {y.min()} to {y.max()}.")
        unlabelled = (y == -1).all(axis=1)
        if free_layout:  # digits, then -1 past the last: no digit after a -1
            mixed = np.flatnonzero(((y[:, 1:] >= 0) & (y[:, :-1] == -1)).any(axis=1))
            rule = "lists its image's digits left to right, then -1 past the last"
        else:
            mixed = np.flatnonzero((y == -1).any(axis=1) & ~unlabelled)
            rule = "holds every digit of its image, or is all -1 for an unlabelled image"
        if len(mixed):
            raise ValueError(f"Row {mixed[0]} of the digit labels mixes -1 with digits ({y[mixed[0]].tolist()}): a "
                             f"row {rule}.")
        return _some_labelled(np.where(unlabelled, -1, digit_row_sums(y)), require_label), y
    raise ValueError(f"y must have shape (n,) for sums or (n, {n_digits}) for digits; got {y.shape}.")


def digit_row_sums(digits):
    """The sum of each row of digits; -1 marks no digit and adds nothing."""
    return np.where(digits >= 0, digits, 0).sum(axis=1)


def _some_labelled(sums, required):
    if required and len(sums) and (sums < 0).all():
        raise ValueError("Every label is -1 (unlabelled): label some images, or pass synthetic= so that "
                         "generated digits teach what the unlabelled images then refine.")
    return sums


def target_sums(y, n_digits, free_layout=False):
    """The sums of labels given as sums (n,) or digits (n, n_digits)."""
    return check_labels(y, len(y), n_digits, free_layout=free_layout)[0]


def sum_accuracy(predicted, y, n_digits, sample_weight=None, free_layout=False):
    """The fraction of the labelled images whose sum ``predicted`` holds; images labelled -1 are left out.

    Parameters
    ----------
    predicted : ndarray of shape (n,)
        Predicted sums.
    y : array-like of shape (n,) or (n, n_digits)
        True sums or digits; -1 (or a row of -1) for an unlabelled image.
    n_digits : int
    sample_weight : array-like of shape (n,) or None
    free_layout : bool, default=False
        Digit rows end in -1 past the last digit (:func:`check_labels`).

    Returns
    -------
    accuracy : float
    """
    sums = target_sums(y, n_digits, free_layout)
    labelled = sums >= 0
    if not labelled.any():
        raise ValueError("Every label is -1 (unlabelled): score needs images with their sums or digits.")
    weights = None if sample_weight is None else np.asarray(sample_weight)[labelled]
    return float(np.average(np.asarray(predicted)[labelled] == sums[labelled], weights=weights))


def check_range(value, name, *, low, low_inclusive=True, ordered=True):
    """Raise ValueError unless ``value`` is a pair of numbers, each ``>= low`` (``> low``).

    With ``ordered``, the pair is a range (low, high) and must not decrease.
    """
    bound = ">=" if low_inclusive else ">"
    valid = (isinstance(value, (tuple, list)) and len(value) == 2
             and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value))
    if valid:
        valid = all(v >= low if low_inclusive else v > low for v in value)
        valid = valid and (not ordered or value[0] <= value[1])
    if not valid:
        shape = "a range (low, high) with low <= high" if ordered else "a pair of numbers"
        raise ValueError(f"{name} must be {shape}, both {bound} {low}; got {value!r}.")


def check_classes(classes, n_digits):
    """Raise ValueError unless ``classes`` lists distinct sums in 0..9 * n_digits (or is None)."""
    if classes is None:
        return
    values = np.asarray(classes)
    max_sum = 9 * n_digits
    if (values.ndim != 1 or not len(values) or not np.issubdtype(values.dtype, np.integer)
            or values.min() < 0 or values.max() > max_sum or len(np.unique(values)) != len(values)):
        raise ValueError(f"classes must list distinct sums in 0..{max_sum} for n_digits={n_digits}, "
                         f"in the order of predict_proba's columns; got {classes!r}.")


# scikit-learn code that fits a clone of an estimator on labels re-encoded as
# 0..k-1 over the labels present, and what it was doing when it did: the
# frame's module and function, and a test of its local variables.
_REENCODING_FITS = {
    # cross_val_predict with a probability method (StackingClassifier calls it too)
    ("sklearn.model_selection._validation", "_fit_and_predict"):
        lambda local: local.get("method") in ("predict_proba", "predict_log_proba", "decision_function"),
    # StackingClassifier and VotingClassifier
    ("sklearn.ensemble._base", "_fit_single_estimator"): lambda local: True,
}


def reencoding_caller():
    """The scikit-learn function that is fitting on re-encoded labels up the call stack, or None.

    Such tools replace each label by its rank among the labels present
    (``LabelEncoder``), which keeps class names apart but turns sums into
    other sums: if no training image sums to 0, every sum shifts down by one.
    The call stack is the only trace of it, in joblib's worker processes too,
    since the re-encoding function itself runs there.
    """
    frame = sys._getframe(1)
    while frame is not None:
        test = _REENCODING_FITS.get((frame.f_globals.get("__name__"), frame.f_code.co_name))
        if test is not None and test(frame.f_locals):
            return frame.f_code.co_name
        frame = frame.f_back
    return None
