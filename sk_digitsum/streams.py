"""What skorch's fit loop reads: the batch type, the default validation split and streamed training data.

:class:`Batch` is what a training step reads from ``X``.
:class:`SeededValidSplit` is the estimators' default ``train_split``.
:class:`SyntheticDigitStream` draws fresh labelled synthetic images on every
pass; :class:`RealAndSyntheticStream` interleaves it with the real training
images, which is what an estimator trains on when given ``synthetic=``.

The items follow skorch's ``(X, y)`` convention with ``y`` the sum, so that
skorch's scoring callbacks compare it with predicted sums. Where the digits
are known, ``X`` holds them beside the images: as a dict
``{"images": ..., "digits": ...}`` of whole arrays given to skorch (its
datasets index dicts), and as a :class:`Batch` in streamed items.
"""

import copy
import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import ValidSplit
from torch.utils.data import IterableDataset, Subset, get_worker_info

from .datasets import digit_range, load_digit_bank


class Batch(NamedTuple):
    """The ``X`` of a training or validation batch, with what the loss needs besides the images.

    Parameters
    ----------
    images : array or tensor of shape (n, H, W) or (n, 1, H, W)
        uint8 0-255 or floats in [0, 1], as the networks take them.
    digits : array or tensor of shape (n, n_digits), or None
        The digits of each image, a row of -1 where only the sum is known;
        None where no image of the batch has them.
    synthetic : array or tensor of shape (n,) of bool, or None
        Which images come from a synthetic source; None where none does.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_digitsum.streams import Batch
    >>> images = np.zeros((2, 28, 112), np.uint8)
    >>> Batch.of(images).digits is None, Batch.of({"images": images, "digits": np.ones((2, 4))}).digits.shape
    (True, (2, 4))
    """

    images: object
    digits: object = None
    synthetic: object = None

    @classmethod
    def of(cls, X):
        """The batch of skorch's ``X``: a Batch, a dict with ``"images"``, or the images alone."""
        if isinstance(X, cls):
            return X
        if isinstance(X, Mapping):
            return cls(X["images"], X.get("digits"), X.get("synthetic"))
        return cls(X)


class SeededValidSplit(ValidSplit):
    """skorch's :class:`~skorch.dataset.ValidSplit`, reproducible from the estimator's ``random_state``.

    With ``random_state=None`` the shuffle seed is drawn from torch's global
    generator, which the estimators seed from their ``random_state`` for the
    length of a fit; so the estimators' default split is reproducible while
    the global numpy state is left alone.

    Unlabelled images (a label of -1 in ``y``) cannot be scored, so they all
    train and the validation images are drawn from the labelled ones only. A
    set with fewer than two labelled images trains on all of it, without
    validation.

    Parameters
    ----------
    cv : int, float or cross-validation generator, default=0.1
        As in :class:`~skorch.dataset.ValidSplit`: a float is the validation
        fraction.
    stratified : bool, default=False
        Stratify by the sums; rare sums make this fail on small sets.
    random_state : int or None, default=None
        A fixed seed; None draws one from torch's generator at each split.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch.dataset import Dataset
    >>> from sk_digitsum.streams import SeededValidSplit
    >>> dataset = Dataset(np.zeros((20, 1, 28, 28), np.uint8), np.arange(20))
    >>> _ = torch.manual_seed(0)
    >>> train, valid = SeededValidSplit(0.1)(dataset)
    >>> len(train), len(valid)
    (18, 2)
    >>> sums = np.r_[np.arange(10), np.full(10, -1)]     # ten images unlabelled
    >>> train, valid = SeededValidSplit(0.1)(Dataset(dataset.X, sums), sums)
    >>> len(train), len(valid)                            # 9 labelled + 10 unlabelled
    (19, 1)
    """

    def __init__(self, cv=0.1, stratified=False, random_state=None):
        super().__init__(cv=cv, stratified=stratified, random_state=random_state)

    def __call__(self, dataset, y=None, groups=None):
        # A y of another length is left for skorch's split to report.
        labels = np.asarray(y) if y is not None and len(y) == len(dataset) else np.zeros(len(dataset))
        # A row of digits is labelled when its digits are; -1 marks an unlabelled sum or digit row.
        labelled = labels.reshape(len(labels), -1).min(axis=1) >= 0
        if labelled.sum() < 2:
            return dataset, None
        seed = self.random_state
        if seed is None:
            seed = int(torch.randint(2**31 - 1, ()))
        split = ValidSplit(self.cv, stratified=self.stratified, random_state=seed)
        if labelled.all():
            return split(dataset, y, groups)
        rows = np.flatnonzero(labelled)
        groups = None if groups is None else np.asarray(groups)[rows]
        train, valid = split(Subset(dataset, rows), labels[rows], groups)
        return (Subset(dataset, np.concatenate([rows[train.indices], np.flatnonzero(~labelled)])),
                Subset(dataset, rows[valid.indices]))

    def __repr__(self):
        return (f"{type(self).__name__}(cv={self.cv!r}, stratified={self.stratified!r}, "
                f"random_state={self.random_state!r})")


def fitted_source(generator, n_digits, image_shape, verbose):
    """The synthetic generator a fit draws from: fitted (on the embedded bank if it is not), checked.

    Parameters
    ----------
    generator : SyntheticDigitsGenerator
        The estimator's ``synthetic`` parameter; it is left as it is.
    n_digits : int
        The most digits an image of the estimator holds.
    image_shape : tuple of int
        (H, W) of the real training images.
    verbose : int
        0 silences the generator's progress bar.

    Returns
    -------
    generator : SyntheticDigitsGenerator
        A fitted copy, sharing a fitted generator's bank.
    """
    if hasattr(generator, "images_"):
        fitted = copy.copy(generator)  # shares the bank; leaves the user's object alone
    else:
        fitted = clone(generator).fit(*load_digit_bank())
    if not verbose:
        fitted.set_params(verbose=0)
    most = digit_range(fitted.n_digits)[1]
    if most != n_digits or tuple(image_shape) != fitted.image_shape:
        raise ValueError(
            f"The synthetic generator makes {fitted.image_shape[0]}x{fitted.image_shape[1]} images of up to "
            f"{most} digits but X holds {image_shape[0]}x{image_shape[1]} images of up to {n_digits}: give the "
            "generator the estimator's digits and image width (n_digits, width)."
        )
    return fitted


class _StreamPasses(IterableDataset):
    """An iterable dataset that draws from a new seed on every pass."""

    def _begin_pass(self):
        """The seed of this pass, and which DataLoader worker reads it.

        Returns
        -------
        pass_key : tuple of int
            In the main process, a draw from torch's global generator. In a
            worker, the DataLoader's base seed (the same in all workers of
            one pass) and the number of passes this copy of the dataset has
            made: persistent workers keep their copy, and their seed, from
            pass to pass, and the count still makes every pass new.
        worker : int
            This worker's id, 0 in the main process.
        n_workers : int
            Workers sharing the pass, 1 in the main process.
        """
        info = get_worker_info()
        if info is None:
            return (int(torch.empty((), dtype=torch.int64).random_()),), 0, 1
        self._passes = getattr(self, "_passes", 0) + 1
        return (info.seed - info.id, self._passes), info.id, info.num_workers


class SyntheticDigitStream(_StreamPasses):
    """Fresh labelled synthetic images on every pass, drawn as they are read.

    An iterable dataset for :class:`torch.utils.data.DataLoader`: each pass
    (epoch) yields ``n_samples`` new images without materialising them, drawn
    in blocks of a few thousand. With ``num_workers`` > 0 the workers share
    the pass between them, each drawing its own images.

    Parameters
    ----------
    generator : SyntheticDigitsGenerator
        A fitted generator; its distortion settings are used.
    n_samples : int
        Images per pass, over all workers.
    random_state : int or None, default=None
        With the seed of the pass and the worker's id, fixes the images: the
        same values give the same stream. The pass seed is the DataLoader's
        base seed in its workers (drawn from its ``generator=``) and a draw
        from torch's global generator (``torch.manual_seed``) without workers.
        None draws fresh entropy for every pass.

    Yields
    ------
    image : torch.Tensor of shape (28, W), dtype uint8
        ``W`` the generator's width (``image_shape``).
    digits : torch.Tensor of shape (n_digits,), dtype int64
        Left to right; in a free layout, -1 past the last digit.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader
    >>> from sk_digitsum import SyntheticDigitsGenerator
    >>> from sk_digitsum.datasets import load_digit_bank
    >>> from sk_digitsum.streams import SyntheticDigitStream
    >>> gen = SyntheticDigitsGenerator().fit(*load_digit_bank())
    >>> stream = SyntheticDigitStream(gen, n_samples=300, random_state=0)
    >>> loader = DataLoader(stream, batch_size=128, generator=torch.Generator().manual_seed(0))
    >>> [tuple(images.shape) for images, digits in loader]
    [(128, 28, 112), (128, 28, 112), (44, 28, 112)]
    """

    # Images drawn at once: enough for the generator to spread its render chunks over all cores.
    _BLOCK = 4096

    def __init__(self, generator, n_samples, random_state=None):
        check_is_fitted(generator, "images_")
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if random_state is not None and (not isinstance(random_state, numbers.Integral) or random_state < 0):
            raise ValueError(f"random_state must be None or a non-negative integer, got {random_state!r}.")
        self.generator = generator
        self.n_samples = n_samples
        self.random_state = random_state

    def __len__(self):
        return self.n_samples

    def __iter__(self):
        pass_key, worker, n_workers = self._begin_pass()
        share = _worker_share(self.n_samples, worker, n_workers)
        sequence = np.random.SeedSequence(self.random_state, spawn_key=(*pass_key, worker))
        rng = np.random.RandomState(sequence.generate_state(4))
        for start in range(0, share, self._BLOCK):
            images, _, digits = self.generator.sample(min(self._BLOCK, share - start), random_state=rng)
            # Tensors, not arrays: the DataLoader then stacks them without converting each.
            yield from zip(torch.from_numpy(images), torch.from_numpy(digits))


class RealAndSyntheticStream(_StreamPasses):
    """Real training rows, reshuffled every pass, interleaved at random with a synthetic stream.

    With DataLoader workers, each worker reads its own share of the real rows
    (one permutation per pass, shared by the workers) and its own synthetic
    images.

    Parameters
    ----------
    real : torch.utils.data.Dataset
        Yields skorch's ``(X, sum)`` items, ``X`` an image or a dict with
        ``"images"`` and, where the digits are known, ``"digits"``.
    synthetic : sk_digitsum.streams.SyntheticDigitStream
        Yields ``(image, digits)`` pairs.
    as_float : bool
        Scale synthetic images to float32 [0, 1] to match float real data.

    Yields
    ------
    X : Batch
        The image (1, H, W); its digits (n_digits,), -1 where unknown; and
        whether it is synthetic.
    sum : torch.Tensor
        The sum of the digits.
    """

    def __init__(self, real, synthetic, as_float):
        self.real = real
        self.synthetic = synthetic
        self.as_float = as_float

    def __len__(self):
        return len(self.real) + len(self.synthetic)

    def __iter__(self):
        pass_key, worker, n_workers = self._begin_pass()
        shared = np.random.RandomState(np.random.SeedSequence(pass_key).generate_state(4))
        real_rows = shared.permutation(len(self.real))[worker::n_workers]
        n_synthetic = _worker_share(len(self.synthetic), worker, n_workers)
        own = np.random.RandomState(np.random.SeedSequence(pass_key, spawn_key=(worker,)).generate_state(4))
        from_synthetic = own.permutation(np.repeat([False, True], [len(real_rows), n_synthetic]))
        unknown_digits = torch.full((digit_range(self.synthetic.generator.n_digits)[1],), -1, dtype=torch.int64)
        synthetic = iter(self.synthetic)
        real_rows = iter(real_rows)
        for take_synthetic in from_synthetic:
            if take_synthetic:
                image, digits = next(synthetic)
                image = image[None].float() / 255 if self.as_float else image[None]
                yield Batch(image, digits, True), digits.clamp(min=0).sum()  # -1 past the last digit
                continue
            x, total = self.real[next(real_rows)]
            real = Batch.of(x)
            digits = unknown_digits if real.digits is None else torch.as_tensor(real.digits)
            yield Batch(torch.as_tensor(real.images), digits, False), torch.as_tensor(total)


def _worker_share(n_items, worker, n_workers):
    """How many of ``n_items`` worker number ``worker`` of ``n_workers`` reads."""
    return n_items // n_workers + (worker < n_items % n_workers)
