"""The estimators: DigitSumClassifier and DigitHeadsClassifier.

Both are skorch nets over one private base (:mod:`sk_digitsum._base`), which
holds the path of a fit; each names its network and criterion. Saving and
loading are in :mod:`sk_digitsum.persistence`.
"""

import numpy as np
import torch

from . import _compat, persistence
from ._base import _DigitClassifierBase
from ._reading import read_columns
from .nn import (
    BACKBONES, DigitHeadsLoss, DigitHeadsNet, DigitReaderLoss, DigitReaderNet, DigitSumNet, SumLoss,
    describe_backbones,
)


_DOC_TEMPLATE = """{summary}

    Parameters
    ----------
    backbone : {{{backbone_names}}}, default="digitnet"
        Feature extractor:

{backbones}
    depth : int or None, default=None
        Backbone depth: ResNet 18, 34, 50 or 101 (default 18); DigitNet conv
        layers, 1-16 (default 6, in ``module__stages=3`` stages; a depth
        below 3 needs fewer stages). None takes the backbone's default.
    n_digits : int, default=4
        Digits per image, in 28-pixel slots side by side; sums run over
        0..9 * n_digits.
    max_digits : int or None, default=None
        Let the digits vary in number, up to ``max_digits``, and sit anywhere
        (as on forms, where amounts vary in length and people leave gaps);
        ``n_digits`` is then unused and sums run over 0..9 * max_digits.
        :class:`DigitHeadsClassifier` then reads with a column reader
        (:class:`~sk_digitsum.nn.DigitReader`): each column of the feature
        map reads a digit or nothing, and the exact sum distribution runs
        over every reading; :class:`DigitSumClassifier`'s head assumes no
        slots already and reads the wider range of sums. Digit labels are
        rows of the digits left to right, then -1 (as
        :func:`~sk_digitsum.datasets.make_digit_sums` gives them for
        ``n_digits=(low, high)``). None keeps the fixed slots.
    image_shape : (int, int) or None, default=None
        (H, W) of the images the network reads. None: those of the images
        seen in fit, and 28 x 28 * n_digits for a network built before fit
        (``initialize()``). Flattened images, rows of H * W pixels as
        scikit-learn's tabular tools and ``fetch_openml("mnist_784")`` give
        them, are read with this shape (28 x 28 * n_digits when None).
    ema_beta : float or None, default=0.99
        Smoothing factor of the :class:`~sk_digitsum.callbacks.EMA` of the
        weights, warmed up over the first steps (``min(beta, (1 + t) / (10 + t))``
        at update ``t``), so that short fits average recent weights too;
        None turns EMA off. Validation scores the average, checkpoints save
        it and the fitted model keeps it.
    pretrained : False, "imagenet" or path-like, default=False
        ResNet weights: ``"imagenet"`` for torchvision's ImageNet weights
        (from the torchvision cache or downloaded), or the path of a saved
        state dict.
    augment : bool or dict, default=True
        Randomly distort each digit slot of every training batch: rotation,
        scale, shift, stroke width, a smooth elastic warp and noise, with the
        ranges of ``sk_digitsum.nn.AUGMENTATION`` (for the column reader of
        :class:`DigitHeadsClassifier` with ``max_digits``, the milder rotation,
        scales and shifts of ``sk_digitsum.nn.FREE_LAYOUT_AUGMENTATION``, which read
        more sums of digits anywhere). A dict overrides
        some of them, with the meanings of :class:`SyntheticDigitsGenerator`'s
        parameters (``{{"elastic": 0.0}}`` gives the augmentation of 0.2).
        The network distorts in training mode only: validation, prediction
        and the teacher of unlabelled images read the images as they are.
    synthetic : SyntheticDigitsGenerator or None, default=None
        If given, each epoch adds fresh digit-labelled synthetic images to the
        training set. An unfitted generator is fitted on the embedded bank.
    synthetic_weight : float, default=1.0
        Weight of the synthetic images' loss against the real images'.
    n_synthetic : int or None, default=None
        Synthetic images per epoch; None matches the real training set.
    device : {{"auto", "cpu", "cuda"}} or str, default="auto"
        Where to train; ``"auto"`` takes a CUDA GPU if there is one.
    mixed_precision : {{"auto", "bf16", "no"}}, default="auto"
        Run the backbone under bfloat16 autocast (weights, heads and losses
        stay float32). ``"auto"`` does so where the hardware computes bfloat16
        natively (recent CUDA GPUs; CPUs with AVX512-BF16 or AMX), which
        trains about 1.5x and predicts about 1.8x faster on such CPUs;
        ``"no"`` keeps float32 everywhere. The environment variable
        ``SK_DIGITSUM_AUTO_PRECISION`` (``bf16`` or ``no``) decides for
        "auto" where it is set.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling, augmentation, the validation split and the
        synthetic draws. An int gives bit-identical results on the CPU.
    max_epochs : int, default=30
        Passes over the training set.
    lr : float, default=3e-3
        Peak learning rate; a cosine schedule over ``max_epochs`` takes it
        towards zero.
    batch_size : int, default=128
        Images per batch.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Set its options with ``optimizer__weight_decay=...`` and the like.
    train_split : callable or None, default=SeededValidSplit(0.1)
        skorch's split of the training images into training and validation
        parts, as ``ValidSplit(5)`` or ``predefined_split(dataset)``; the
        default holds out a random 10% of the labelled images, drawn from
        ``random_state``; None trains on all.
    callbacks : list of skorch callbacks or None, default=None
        Added to the defaults: timer, losses, ``valid_acc``, cosine learning
        rate (``lr_scheduler``), gradient-norm clipping at 5
        (``gradient_clipping``), ``ema``, progress printing.
    verbose : int, default=1
        1 prints one line per epoch (loss, validation accuracy, time); 2 adds
        a progress bar over the batches of each epoch; 0 prints nothing.
    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights.
    classes : array-like of int or None, default=None
        The sums ``predict_proba`` gives columns for, in order. None: the
        sums seen in fit (scikit-learn's convention); ``range(37)`` gives every
        sum of 4 digits.
    validation_fraction : float
        Deprecated: pass ``train_split=SeededValidSplit(fraction)``.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter: ``module__*`` options of
        the network, ``criterion``, ``iterator_train``, ``iterator_valid``,
        ``compile``, ``iterator_train__num_workers``, ``torch_load_kwargs``...
        ``predict_nonlinearity`` stays ``"auto"``: ``predict_proba`` is the
        exact sum distribution already.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (with the EMA weights when EMA is on).
    history_ : skorch.History
        Per-epoch records: ``train_loss``, ``valid_loss``, ``valid_acc``, ``dur``.
    classes_ : ndarray of shape (n_classes,)
        The sums ``predict_proba``'s columns stand for.
    image_shape_ : tuple of int
        (H, W) of the images the network reads.
    n_features_in_ : int
        ``H * W``, where fit saw flattened images (rows of ``H * W``
        pixels); absent where it saw stacks of images, whose second axis is
        no feature axis (tools such as MAPIE compare it with ``X.shape[1]``).
    device_ : str
        The device used, with ``"auto"`` resolved (by ``initialize``).
    synthetic_ : SyntheticDigitsGenerator or None
        The fitted synthetic source used in fit.
"""


def _doc(summary):
    return _DOC_TEMPLATE.format(summary=summary, backbones=describe_backbones(indent=8),
                                backbone_names=", ".join(f'"{name}"' for name in BACKBONES))


class DigitSumClassifier(_DigitClassifierBase):
    __doc__ = _doc("""Predict the sum of the handwritten digits in an image directly.

    A backbone and a small MLP head score the 9 * n_digits + 1 possible sums;
    training minimises their cross-entropy. The labels are class labels to
    it: tools that re-encode them, such as ``StackingClassifier``, work
    (except beside ``synthetic=``, whose images come with their true sums).
    """) + """
    See Also
    --------
    DigitHeadsClassifier : Reads each digit; usually more accurate.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitSumClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape == (2, len(clf.classes_))
    True
    """

    def _network_and_criterion(self):
        # A sum head over the whole image: it assumes no slots, so free layouts only widen the sums.
        return DigitSumNet, {"n_digits": self._most_digits()}, SumLoss, {}


class DigitHeadsClassifier(_DigitClassifierBase):
    __doc__ = _doc("""Read each digit; predict the sum of the digits.

    A backbone's feature map is pooled into one column per digit position,
    and one 10-way digit classifier, shared by the positions, reads each
    column. It learns from digit labels (cross-entropy per position) or from
    sum labels alone: the exact distribution of the sum is the convolution
    of the per-position digit distributions, and the loss is the negative
    log-likelihood of the true sum under it. ``predict`` returns the most
    probable sum.
    """) + """
    See Also
    --------
    DigitSumClassifier : Predicts the sum directly.

    Examples
    --------
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_digits(X[:2]).shape
    (2, 4)

    Save safely (JSON parameters and tensors; no pickled code) and load:

    >>> import tempfile
    >>> path = f"{tempfile.mkdtemp()}/model.pt"
    >>> clf.save(path)
    >>> (DigitHeadsClassifier.load(path).predict(X) == clf.predict(X)).all()
    np.True_
    """

    def _network_and_criterion(self):
        if self.max_digits is None:
            return DigitHeadsNet, {"n_digits": self.n_digits}, DigitHeadsLoss, {}
        return DigitReaderNet, {"max_digits": self.max_digits}, DigitReaderLoss, {"max_digits": self.max_digits}

    def _needs_true_sums(self):
        # The sum layer reads a label s as the digits adding up to s.
        return True

    def predict_digit_proba(self, X):
        """Probability of each digit at each position (fixed slots only).

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_digits, 10)

        Raises
        ------
        AttributeError
            With ``max_digits`` set: digits found anywhere have no fixed
            positions; :meth:`read_digits` says which were read and where.
        """
        if self.max_digits is not None:
            raise AttributeError("predict_digit_proba gives the digits of fixed slots; with max_digits the digits "
                                 "sit anywhere: use predict_digits or read_digits.")
        return np.concatenate([torch.softmax(logits.detach().float(), dim=-1).cpu().numpy()
                               for logits in self._outputs(X)])

    def predict_digits(self, X):
        """The digits read in each image, left to right.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        digits : ndarray of shape (n_samples, n_digits) or (n_samples, max_digits)
            The most probable digit in each slot; with ``max_digits``, the
            digits read, left to right, then -1 past the last (the form
            ``make_digit_sums`` gives and ``fit`` takes). Learnt from sums
            alone, a 0 and an empty stretch of paper add the same to every
            sum, so 0s may be missed or read in gaps; digit labels or
            synthetic digits teach them.
        """
        if self.max_digits is None:
            return self.predict_digit_proba(X).argmax(axis=2)
        return self.read_digits(X)[0]

    def read_digits(self, X):
        """The digits read in each image, left to right, and where (``max_digits`` set).

        The reader's most probable symbol in each column of its feature map
        (about 8 pixels of image); a run of columns reading one digit reads
        it once.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        digits : ndarray of shape (n_samples, max_digits)
            The digits read, left to right, -1 past the last.
        centres : ndarray of shape (n_samples, max_digits)
            The horizontal centre of each digit read, in pixels; NaN past the last.
        """
        if self.max_digits is None:
            raise AttributeError("read_digits finds digits anywhere, with max_digits set; with fixed slots, "
                                 "use predict_digits.")
        logits = np.concatenate([output.detach().float().cpu().numpy() for output in self._outputs(X)])
        return read_columns(logits, self.image_shape_[1], self.max_digits)


persistence.register_estimator(DigitSumClassifier)
persistence.register_estimator(DigitHeadsClassifier)


def __getattr__(name):
    # Names that model files pickled by earlier versions refer to in this module.
    return _compat.moved_name(__name__, name)
