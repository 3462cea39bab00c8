"""Predicting sums: the estimators' prediction methods, through a folded copy of the network."""

import copy
import weakref
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.utils import is_dataset
from torch.fx.experimental.optimization import fuse

from . import _validation
from .nn import unwrap

# Folded prediction copies, keyed by the network they copy: (weights' version, folded copy).
_FOLDED = weakref.WeakKeyDictionary()

# Rows per call of the sum layer: few calls, and a bounded (rows, sums, 10) intermediate.
_SUM_CHUNK = 16_384


class SumPredictionMixin:
    """``predict_proba``, ``predict`` and ``score`` over the sums in ``classes_``.

    For a skorch net whose network has a ``sum_log_probs`` method, and whose
    ``_forward(module, images)`` runs it under the precision policy.
    """

    def _check_predict_images(self, X):
        check_is_fitted(self)
        return _validation.check_images(X, expected_shape=self.image_shape_)

    def _sum_columns(self):
        """The sums ``predict_proba``'s columns stand for: ``classes_``, else every possible sum."""
        try:
            return np.asarray(self.classes_)
        except AttributeError:  # initialised and loaded, never fitted: nothing says which sums were seen
            return np.arange(9 * self.n_digits + 1)

    def _sum_proba_of(self, outputs):
        # Outputs cached from training steps (skorch's on_train scoring) carry gradients. One call
        # over all outputs: the sum layer's cost is mostly per call.
        outputs = torch.cat([output.detach().float() for output in outputs])
        network = unwrap(self.module_)
        log_proba = torch.cat([network.sum_log_probs(chunk) for chunk in outputs.split(_SUM_CHUNK)])
        columns = torch.as_tensor(self._sum_columns(), device=log_proba.device)
        return torch.softmax(log_proba[:, columns], dim=1).cpu().numpy()

    def _outputs(self, X):
        """Network outputs, batch by batch: images through the folded network, skorch data through skorch.

        skorch's scoring callbacks pass its datasets, and replay cached
        outputs through :meth:`forward_iter`.
        """
        if is_dataset(X) or isinstance(X, Mapping):
            return self.forward_iter(X, training=False, device=self.device_)
        images = self._check_predict_images(X)
        return self._folded_outputs(images, self._prediction_module())

    def _folded_outputs(self, images, module):
        batch_size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                yield self._forward(module, torch.from_numpy(images[start:start + batch_size]).to(self.device_))

    def _prediction_module(self):
        """The network in eval mode with each conv+BatchNorm pair folded into one conv.

        Folding saves a pass over every activation (about 16% of DigitNet's
        CPU prediction time). The folded copy is cached beside the network,
        not on the estimator, so predicting leaves the estimator unchanged; it
        is rebuilt when the weights change (any in-place update bumps a
        tensor's version counter).
        """
        network = unwrap(self.module_)
        version = sum(tensor._version for tensor in (*network.parameters(), *network.buffers()))
        cached = _FOLDED.get(network)
        if cached is None or cached[0] != version:
            module = copy.deepcopy(network).eval()
            try:
                module.backbone = fuse(module.backbone)
            except Exception:  # a backbone fx cannot trace: predict unfused
                pass
            _FOLDED[network] = cached = (version, module)
        return cached[1]

    def predict_proba(self, X):
        """Probability of each sum in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Column ``j`` is the probability that the digits sum to
            ``classes_[j]``, among the sums in ``classes_``.
        """
        return self._sum_proba_of(self._outputs(X))

    def predict(self, X):
        """Most probable sum of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        sums : ndarray of shape (n_samples,)
        """
        return self._sum_columns()[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Sum accuracy.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images.
        y : array-like of shape (n_samples,) or (n_samples, n_digits)
            True sums, or true digits (whose sums are compared); -1 (or a
            row of -1) for an unlabelled image, which is not scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Fraction of the labelled images whose sum is predicted exactly;
            images labelled -1 (unlabelled) are left out.
        """
        sums = _validation.target_sums(y, self.n_digits)
        labelled = sums >= 0
        if not labelled.any():
            raise ValueError("Every label is -1 (unlabelled): score needs images with their sums or digits.")
        weights = None if sample_weight is None else np.asarray(sample_weight)[labelled]
        return float(np.average(self.predict(X)[labelled] == sums[labelled], weights=weights))
