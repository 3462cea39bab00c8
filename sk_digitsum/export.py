"""ONNX export: a fitted estimator's one forward pass, with its exact sum distribution, in one file.

The graph is the network's own forward pass (:mod:`sk_digitsum.nn.networks`),
folded for prediction and run in float32, followed by the sum probabilities
over ``classes_``: it takes uint8 images of shape (n, H, W), ``n`` free, and
returns what ``predict_proba`` returns (and, for ``DigitHeadsClassifier``,
what ``predict_digit_proba`` returns, or with ``max_digits`` the reader's
column probabilities). The file's metadata holds what a predictor needs
besides: ``classes_``, the image shape, ``n_digits`` (the most digits),
``max_digits``, the estimator class and the package version. :class:`sk_digitsum.runtime.OnnxPredictor`
reads it with ONNX Runtime, without torch.

Needs the ``onnx`` extra (``pip install "sk_digitsum[onnx]"``) and torch 2.6
or later, whose exporter (``torch.onnx.export(dynamo=True)``) writes the graph.
"""

import json

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from . import __version__
from .nn import folded
from .persistence import replacing, saved_class

INPUT = "images"
SUM_PROBA, DIGIT_PROBA, COLUMN_PROBA = "sum_proba", "digit_proba", "column_proba"


class _SumProbabilities(nn.Module):
    """The network's forward pass, then the probability of each sum in ``classes`` (and of each digit)."""

    def __init__(self, network, classes, with_digits):
        super().__init__()
        self.network = network
        self.register_buffer("columns", torch.as_tensor(classes, dtype=torch.int64))
        self.with_digits = with_digits

    def forward(self, images):
        outputs = self.network(images)
        sum_proba = torch.softmax(self.network.sum_log_probs(outputs).index_select(1, self.columns), dim=1)
        if self.with_digits:
            return sum_proba, torch.softmax(outputs.float(), dim=-1)
        return sum_proba


def to_onnx(estimator, path):
    """Write a fitted estimator to an ONNX file that predicts without torch.

    Parameters
    ----------
    estimator : fitted DigitHeadsClassifier or DigitSumClassifier
        With any backbone.
    path : str or path-like
        The file to write; written whole or not at all
        (:func:`~sk_digitsum.persistence.replacing`).

    Returns
    -------
    path : str or path-like
        ``path``.

    Notes
    -----
    The graph's input ``images`` is uint8, shape (n, H, W) with ``n`` free;
    its output ``sum_proba`` has shape (n, n_classes) over ``classes_``, and
    ``DigitHeadsClassifier`` adds ``digit_proba``, (n, n_digits, 10), or with
    ``max_digits`` ``column_proba``, (n, columns, 11), from which
    ``read_digits`` reads the digits. It runs
    in float32 whatever ``mixed_precision`` says, with each conv+BatchNorm
    pair folded as ``predict`` folds it.

    Examples
    --------
    >>> import tempfile
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> from sk_digitsum.export import to_onnx
    >>> from sk_digitsum.runtime import OnnxPredictor
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> path = to_onnx(clf, f"{tempfile.mkdtemp()}/model.onnx")
    >>> (OnnxPredictor(path).predict(X) == clf.predict(X)).mean() > 0.95
    np.True_
    """
    import onnx  # noqa: F401 - the exporter needs it; a missing one is named here rather than deep inside torch

    check_is_fitted(estimator)
    if tuple(int(part) for part in torch.__version__.split(".")[:2]) < (2, 6):
        raise RuntimeError(f"ONNX export needs torch 2.6 or later (torch.onnx.export(dynamo=True)); this is torch "
                           f"{torch.__version__}.")
    network = folded(estimator.module_).cpu()  # a copy: the estimator's network stays as it is
    network.mixed_precision = "no"
    with_digits = hasattr(estimator, "predict_digit_proba")
    model = _SumProbabilities(network, estimator._sum_columns(), with_digits).eval()
    example = torch.zeros((2, *estimator.image_shape_), dtype=torch.uint8)
    max_digits = getattr(estimator, "max_digits", None)
    outputs = [SUM_PROBA, DIGIT_PROBA if max_digits is None else COLUMN_PROBA] if with_digits else [SUM_PROBA]
    with torch.no_grad():
        program = torch.onnx.export(model, (example,), input_names=[INPUT], output_names=outputs,
                                    dynamic_shapes={INPUT: {0: torch.export.Dim("batch")}}, dynamo=True,
                                    verbose=False)
    proto = program.model_proto
    metadata = {"classes": [int(c) for c in estimator._sum_columns()], "image_shape": list(estimator.image_shape_),
                "n_digits": int(estimator._most_digits()), "max_digits": max_digits,
                "estimator": saved_class(estimator).__name__,
                "version": __version__}
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    proto.producer_name = "sk_digitsum"
    with replacing(path) as file:
        file.write(proto.SerializeToString())
    return path
