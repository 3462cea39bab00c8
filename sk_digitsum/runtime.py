"""Prediction without torch: an exported model (``.onnx``) read with ONNX Runtime.

This module imports numpy, ONNX Runtime and the package's image checks,
nothing of torch, skorch or scikit-learn, so a scanning station or a web
service installs the package without its training requirements::

    pip install --no-deps sk_digitsum && pip install numpy onnxruntime pillow

and predicts with :class:`OnnxPredictor` (or ``sk-digitsum predict --model
model.onnx``). Write the file with ``clf.to_onnx("model.onnx")`` where the
model was trained.
"""

import json

import numpy as np

from . import _validation
from ._reading import read_columns

_BATCH = 1024  # images per call of the session: bounded memory, and few calls


class OnnxPredictor:
    """The prediction methods of a fitted estimator, from its ONNX file.

    ``predict``, ``predict_proba``, ``score`` and, for a
    ``DigitHeadsClassifier``, ``predict_digits`` and ``predict_digit_proba``
    answer as the estimator's do, within float32 rounding. Images are checked
    as the estimators check them; float images in [0, 1] are rounded to
    uint8, the graph's input.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`sk_digitsum.export.to_onnx` (``clf.to_onnx``).
    providers : list of str or None, default=None
        ONNX Runtime's execution providers; None takes its default (the CPU).
    session_options : onnxruntime.SessionOptions or None, default=None
        Threads and graph optimisations, as ONNX Runtime takes them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sums ``predict_proba``'s columns stand for.
    image_shape_ : tuple of int
        (H, W) of the images the model reads.
    n_digits : int
        Digits per image; with ``max_digits``, the most an image holds.
    max_digits : int or None
        The estimator's ``max_digits``: None for digits in fixed slots.
    estimator_ : str
        The class of the estimator that was exported.
    version_ : str
        The sk_digitsum version that exported it.
    session_ : onnxruntime.InferenceSession

    Examples
    --------
    >>> from sk_digitsum.runtime import OnnxPredictor
    >>> predictor = OnnxPredictor("model.onnx")            # doctest: +SKIP
    >>> predictor.predict(images)                          # doctest: +SKIP
    """

    def __init__(self, path, *, providers=None, session_options=None):
        import onnxruntime

        self.session_ = onnxruntime.InferenceSession(str(path), sess_options=session_options, providers=providers)
        metadata = self.session_.get_modelmeta().custom_metadata_map
        missing = {"classes", "image_shape", "n_digits", "estimator", "version"} - metadata.keys()
        if missing:
            raise ValueError(f"{path} is an ONNX file but not one sk_digitsum exported (no {sorted(missing)} in its "
                             "metadata): write it with clf.to_onnx(path).")
        self.classes_ = np.asarray(json.loads(metadata["classes"]))
        self.image_shape_ = tuple(json.loads(metadata["image_shape"]))
        self.n_digits = int(json.loads(metadata["n_digits"]))
        self.max_digits = json.loads(metadata.get("max_digits", "null"))
        self.estimator_ = json.loads(metadata["estimator"])
        self.version_ = json.loads(metadata["version"])
        self._outputs = [output.name for output in self.session_.get_outputs()]

    def __repr__(self):
        return f"{type(self).__name__}({self.estimator_}, classes={len(self.classes_)}, image_shape={self.image_shape_})"

    def _run(self, X, output):
        images = _validation.check_images(X, expected_shape=self.image_shape_)[:, 0]
        if images.dtype != np.uint8:
            images = np.round(images * 255).astype(np.uint8)
        (name,) = [name for name in self._outputs if name == output] or [None]
        if name is None:
            raise AttributeError(f"the exported {self.estimator_} has no {output}: only DigitHeadsClassifier reads "
                                 "digits")
        return np.concatenate([self.session_.run([name], {"images": images[start:start + _BATCH]})[0]
                               for start in range(0, len(images), _BATCH)])

    def predict_proba(self, X):
        """Probability of each sum in ``classes_``, for images of ``image_shape_``; (n, n_classes)."""
        return self._run(X, "sum_proba")

    def predict(self, X):
        """Most probable sum of each image; (n,)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_digit_proba(self, X):
        """Probability of each digit at each position; (n, n_digits, 10). DigitHeadsClassifier in slots only."""
        return self._run(X, "digit_proba")

    def predict_digits(self, X):
        """The digits read, as ``DigitHeadsClassifier.predict_digits``: (n, n_digits), -1 past the last."""
        if self.max_digits is None:
            return self.predict_digit_proba(X).argmax(axis=2)
        return self.read_digits(X)[0]

    def read_digits(self, X):
        """The digits read and their centres in pixels, as ``DigitHeadsClassifier.read_digits``; max_digits only."""
        return read_columns(self._run(X, "column_proba"), self.image_shape_[1], self.max_digits)

    def score(self, X, y, sample_weight=None):
        """Sum accuracy on the labelled images (labels of -1 are left out), as the estimators score."""
        return _validation.sum_accuracy(self.predict(X), y, self.n_digits, sample_weight,
                                        free_layout=self.max_digits is not None)
