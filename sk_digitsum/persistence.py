"""A safe model format: parameters as JSON, weights as plain tensors; writes that replace a file whole.

``joblib.load`` unpickles, and unpickling runs code stored in the file. This
format holds only strings, numbers and tensors and is read back with
``torch.load(weights_only=True)``, which refuses anything else, so loading a
file from an untrusted source cannot run code.

Every file the package writes for a user (:func:`save_model`, the command
line's models and predictions) goes through :func:`replacing`: a temporary
file in the same folder, renamed over the target once complete, so a write
that dies half-way (a full disk, a kill) leaves the earlier file whole.
"""

import contextlib
import importlib
import json
import numbers
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from . import _compat
from ._validation import check_device
from .nn import unwrap
from .synthetic import SyntheticDigitsGenerator

FORMAT = "sk_digitsum.safe"
VERSION = 3
_OPTIMIZER_MODULE = "torch.optim"
# The estimator classes a file may name, filled by register_estimator: this module
# knows them without importing the estimators, which import it. Loading imports
# the module that registers them, in case nothing has yet.
_ESTIMATORS = {}
_REGISTERING_MODULE = "sk_digitsum.estimators"


def register_estimator(cls):
    """Let model files hold estimators of ``cls`` (and name it for its subclasses)."""
    _ESTIMATORS[cls.__name__] = cls
    return cls


def _encode(value):
    """A JSON-safe form of a parameter value, or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (np.ndarray, range)):
        value = np.asarray(value).tolist()
    if isinstance(value, (list, tuple)):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, type) and value.__module__.startswith(_OPTIMIZER_MODULE):
        return {"__optimizer__": value.__name__}
    if isinstance(value, SyntheticDigitsGenerator):
        return {"__generator__": _encode(value.get_params())}
    raise TypeError(type(value).__name__)


def _decode(value):
    if not isinstance(value, dict):
        return value
    (kind, content), = value.items()
    if kind == "__tuple__":
        return tuple(_decode(v) for v in content)
    if kind == "__list__":
        return [_decode(v) for v in content]
    if kind == "__dict__":
        return {k: _decode(v) for k, v in content.items()}
    if kind == "__optimizer__":
        optimizer = getattr(importlib.import_module(_OPTIMIZER_MODULE), content, None)
        if not (isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)):
            raise ValueError(f"Unknown optimizer {content!r} in the model file.")
        return optimizer
    if kind == "__generator__":
        return SyntheticDigitsGenerator(**_decode(content))
    raise ValueError(f"Unknown parameter encoding {kind!r} in the model file.")


def saved_class(estimator):
    """The estimator class a model file records: an accelerated estimator's plain class."""
    return next(cls for cls in type(estimator).__mro__ if _ESTIMATORS.get(cls.__name__) is cls)


def _storable_params(estimator):
    defaults = saved_class(estimator)().get_params(deep=False)
    not_saved = getattr(estimator, "_not_saved", ())
    stored, skipped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if name in not_saved or (name in defaults and _is_default(value, defaults[name])):
            continue  # training-only settings, default objects the constructor rebuilds
        try:
            stored[name] = _encode(value)
        except TypeError:
            skipped.append(name)
    if skipped:
        warnings.warn(f"Parameters {skipped} hold Python objects that the safe format does not store; "
                      "the loaded model gets their defaults. Use joblib to keep them.", UserWarning)
    return stored


def _is_default(value, default):
    # A clone holds copies of the default objects: they count as defaults when they print the same.
    return value is default or (type(value) is type(default) and repr(value) == repr(default))


@contextlib.contextmanager
def replacing(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` once the block succeeds.

    The rename is atomic on POSIX and Windows (:func:`os.replace`), so
    readers of ``path`` see the old file or the new one, never a part of
    the new one; if the block raises, the temporary file is removed and
    ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    mode : {"wb", "w"}, default="wb"
        Binary or text (UTF-8).

    Yields
    ------
    file : file object

    Examples
    --------
    >>> import tempfile
    >>> from sk_digitsum.persistence import replacing
    >>> path = f"{tempfile.mkdtemp()}/out.csv"
    >>> with replacing(path, "w") as f:
    ...     _ = f.write("image,sum\\n")
    >>> open(path).read()
    'image,sum\\n'
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with open(descriptor, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def save_model(estimator, path):
    """Save a fitted estimator as JSON parameters and tensors only.

    The file is written whole or not at all (:func:`replacing`).

    Parameters
    ----------
    estimator : fitted DigitHeadsClassifier or DigitSumClassifier
    path : str or path-like
        File to write.
    """
    check_is_fitted(estimator)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": saved_class(estimator).__name__,
        "params": json.dumps(_storable_params(estimator)),
        "image_shape": list(estimator.image_shape_),
        "history": json.dumps(estimator.history_.to_list(), default=float),
        "classes": [int(c) for c in estimator._sum_columns()],
        "state_dict": {k: v.detach().cpu() for k, v in unwrap(estimator.module_).state_dict().items()},
    }
    with replacing(path) as file:
        torch.save(payload, file)


def load_model(path, expected_class=None):
    """Load an estimator saved by :func:`save_model`, without unpickling code.

    Parameters
    ----------
    path : str or path-like
        File written by ``save``.
    expected_class : type or None, default=None
        If given, the file must hold an estimator of this class.

    Returns
    -------
    estimator : fitted estimator
        On the device its ``device`` parameter names, or the CPU where that
        is 'auto' or a missing GPU.

    Raises
    ------
    ValueError
        If the file is corrupt, not a model file, or holds another class or
        weights that do not fit the network its parameters describe.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        # torch's messages run to several sentences: the first says what failed.
        reason = str(error).split(". ")[0].split("\n")[0]
        raise ValueError(f"{path} is not an sk_digitsum model file, or it is damaged ({reason})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an sk_digitsum model file saved with .save().")
    if payload.get("version") not in range(1, VERSION + 1):
        raise ValueError(f"{path} has format version {payload.get('version')}; this sk_digitsum reads 1 to {VERSION}.")
    name = payload["estimator"]
    importlib.import_module(_REGISTERING_MODULE)
    cls = _ESTIMATORS.get(name)
    if cls is None or (expected_class is not None and cls is not expected_class):
        wanted = expected_class.__name__ if expected_class is not None else "a known estimator"
        raise ValueError(f"{path} holds a {name}, not {wanted}.")
    params = _compat.upgrade_saved_params({k: _decode(v) for k, v in json.loads(payload["params"]).items()},
                                          payload["version"], name)
    estimator = cls(**params)
    try:
        check_device(estimator.device)
    except ValueError:
        warnings.warn(f"The model was saved with device={estimator.device!r}, which is not available here; "
                      "loading it on the CPU.", UserWarning)
        estimator.device = "cpu"
    estimator.image_shape_ = tuple(payload["image_shape"])
    estimator.initialize()
    try:
        unwrap(estimator.module_).load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"The weights in {path} do not fit a {name} with the saved parameters: {error}") from error
    estimator.history_ = History(json.loads(payload["history"]))
    estimator.classes_inferred_ = np.asarray(payload["classes"] if "classes" in payload
                                             else _compat.classes_of_version_2(estimator.n_digits))
    return estimator
