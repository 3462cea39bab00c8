"""A safe model format: parameters as JSON, weights as plain tensors.

``joblib.load`` unpickles, and unpickling runs code stored in the file. This
format holds only strings, numbers and tensors and is read back with
``torch.load(weights_only=True)``, which refuses anything else, so loading a
file from an untrusted source cannot run code.
"""

import importlib
import json
import numbers
import warnings

import torch
from skorch.history import History

from . import _validation

FORMAT = "sk_digitsum.safe"
VERSION = 2
_OPTIMIZER_MODULE = "torch.optim"


def _encode(value):
    """A JSON-safe form of a parameter value, or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, type) and value.__module__.startswith(_OPTIMIZER_MODULE):
        return {"__optimizer__": value.__name__}
    from .synthetic import SyntheticDigitsGenerator

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
        from .synthetic import SyntheticDigitsGenerator

        return SyntheticDigitsGenerator(**_decode(content))
    raise ValueError(f"Unknown parameter encoding {kind!r} in the model file.")


def saved_class(estimator):
    """The estimator class a model file records: an accelerated estimator's plain class."""
    from .estimators import DigitHeadsClassifier, DigitSumClassifier

    return next(cls for cls in type(estimator).__mro__ if cls in (DigitHeadsClassifier, DigitSumClassifier))


def _upgrade_version_1(params, estimator_name):
    """Version-1 files predate the 3-stage DigitNet and head dropout; rebuild the network they hold.

    Parameters equal to their defaults are not stored, so a version-1 file
    with the default backbone says nothing of its depth (then 4) or stages
    (then always 2), and its heads had no dropout.
    """
    if params.get("backbone", "digitnet") == "digitnet":
        if params.get("depth") is None:
            params["depth"] = 4
        params.setdefault("module__stages", 2)
    if estimator_name == "DigitHeadsClassifier":
        params.setdefault("module__dropout", 0.0)
    return params


def _storable_params(estimator):
    defaults = saved_class(estimator)().get_params(deep=False)
    not_saved = getattr(estimator, "_not_saved", ())
    stored, skipped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if name.startswith("_") or name in not_saved or (name in defaults and value is defaults[name]):
            continue  # skorch internals, training-only settings, default objects the constructor rebuilds
        try:
            stored[name] = _encode(value)
        except TypeError:
            skipped.append(name)
    if skipped:
        warnings.warn(f"Parameters {skipped} hold Python objects that the safe format does not store; "
                      "the loaded model gets their defaults. Use joblib to keep them.", UserWarning)
    return stored


def save_model(estimator, path):
    """Save a fitted estimator as JSON parameters and tensors only.

    Parameters
    ----------
    estimator : fitted DigitHeadsClassifier or DigitSumClassifier
    path : str or path-like
        File to write.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "image_shape_")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": saved_class(estimator).__name__,
        "params": json.dumps(_storable_params(estimator)),
        "image_shape": list(estimator.image_shape_),
        "history": json.dumps(estimator.history_.to_list(), default=float),
        "state_dict": {k: v.detach().cpu() for k, v in estimator.module_.state_dict().items()},
    }
    torch.save(payload, path)


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
    from . import estimators

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise ValueError(f"{path} is not a valid sk_digitsum model file (it may be corrupt): {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an sk_digitsum model file saved with .save().")
    if payload.get("version") not in (1, VERSION):
        raise ValueError(f"{path} has format version {payload.get('version')}; this sk_digitsum reads 1 to {VERSION}.")
    name = payload["estimator"]
    cls = getattr(estimators, name, None) if name in ("DigitHeadsClassifier", "DigitSumClassifier") else None
    if cls is None or (expected_class is not None and cls is not expected_class):
        wanted = expected_class.__name__ if expected_class is not None else "a known estimator"
        raise ValueError(f"{path} holds a {name}, not {wanted}.")
    params = {k: _decode(v) for k, v in json.loads(payload["params"]).items()}
    if payload["version"] == 1:
        params = _upgrade_version_1(params, name)
    estimator = cls(**params)
    try:
        device = _validation.resolve_device(estimator.device)
    except ValueError:
        warnings.warn(f"The model was saved with device={estimator.device!r}, which is not available here; "
                      "loading it on the CPU.", UserWarning)
        device = "cpu"
    estimator.device_ = device
    estimator.image_shape_ = tuple(payload["image_shape"])
    with torch.random.fork_rng(devices=[]):
        estimator.initialize()
    try:
        estimator.module_.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"The weights in {path} do not fit a {name} with the saved parameters: {error}") from error
    estimator.module_.to(device)
    estimator.history_ = History(json.loads(payload["history"]))
    return estimator
