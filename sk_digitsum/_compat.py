"""Model files of earlier versions: what they name and hold that this version does not.

Everything the package knows of older files is here, so that it can go as
a whole once those versions are no longer read:

- Pickles (``joblib``) of 0.3-0.5 name functions by the module they lived
  in then (:func:`moved_name`; removed modules are registered under their
  old names), and their estimators, networks and callbacks lack attributes
  added since (:func:`upgrade_unpickled`).
- Safe files (``.pt``) of format versions 1 and 2 describe networks built
  with older defaults (:func:`upgrade_saved_params`) and predate
  ``classes_`` (:func:`classes_of_version_2`).
"""

import functools
import sys
import types

import numpy as np

from .callbacks import EMA, labelled_sum_accuracy
from .nn import unwrap
from .nn.augment import SlotAugment

# (module, name) that pickles of earlier versions refer to: the object that stands for it now.
_MOVED = {
    # 0.3's valid_acc scorer: the accuracy of predicted sums, as now on images that all have labels.
    ("sk_digitsum.estimators", "_sum_accuracy"): labelled_sum_accuracy,
    # 0.5's, in a module that is gone.
    ("sk_digitsum._training", "labelled_sum_accuracy"): labelled_sum_accuracy,
}
_REMOVED_MODULES = ("sk_digitsum._training",)


def moved_name(module, name):
    """The object that ``module.name`` of an earlier version stands for; AttributeError if none.

    A module's ``__getattr__`` (PEP 562) for names that model files of
    earlier versions refer to.
    """
    try:
        return _MOVED[module, name]
    except KeyError:
        raise AttributeError(f"module {module!r} has no attribute {name!r}") from None


for _name in _REMOVED_MODULES:
    _module = types.ModuleType(_name, "Removed; model files pickled by earlier versions name it.")
    _module.__getattr__ = functools.partial(moved_name, _name)
    sys.modules.setdefault(_name, _module)


def upgrade_unpickled(estimator):
    """Give an unpickled estimator of an earlier version the attributes this version reads.

    0.3 had no ``image_shape`` parameter, versions before 0.4.1 no
    ``n_features_in_`` and versions before 0.6 no ``max_digits``; networks before 0.6 did their scaling and
    augmentation outside the module, and EMA callbacks before 0.6 had no
    warm-up. Attributes already there are left alone.
    """
    state = estimator.__dict__
    state.setdefault("image_shape", None)
    state.setdefault("max_digits", None)
    if "image_shape_" in state:
        state.setdefault("n_features_in_", int(np.prod(state["image_shape_"])))
    if "module_" in state:
        network = unwrap(estimator.module_)
        if "augment" not in network._modules:
            network.augment = SlotAugment(network.n_digits, estimator.augment)
        network.__dict__.setdefault("mixed_precision", estimator.mixed_precision)
        network.__dict__.setdefault("image_shape", tuple(estimator.image_shape_))
    for _, callback in state.get("callbacks_", ()):
        if isinstance(callback, EMA) and "warmup" not in callback.__dict__:
            for old in ("averaged_", "swapped_"):
                callback.__dict__.pop(old, None)
            callback.warmup = EMA().warmup
            callback.initialize()


def upgrade_saved_params(params, version, estimator_name):
    """The parameters of a safe file of format ``version``, as this version's estimators read them.

    Version-1 files predate the 3-stage DigitNet and head dropout.
    Parameters equal to their defaults are not stored, so a version-1 file
    with the default backbone says nothing of its depth (then 4) or stages
    (then always 2), and its heads had no dropout.
    """
    if version == 1:
        if params.get("backbone", "digitnet") == "digitnet":
            if params.get("depth") is None:
                params["depth"] = 4
            params.setdefault("module__stages", 2)
        if estimator_name == "DigitHeadsClassifier":
            params.setdefault("module__dropout", 0.0)
    return params


def classes_of_version_2(n_digits):
    """``classes_`` of a safe file of format 1 or 2: every sum, as those models predicted."""
    return np.arange(9 * n_digits + 1)
