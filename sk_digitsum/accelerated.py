"""Data-parallel training on several GPUs with Hugging Face Accelerate.

The estimators here are the package's estimators with skorch's
:class:`~skorch.hf.AccelerateMixin`: an ``accelerate.Accelerator`` places the
network, wraps it for distributed data parallelism, shards each epoch's
batches between the processes and gathers predictions. Launch a script that
fits one with ``accelerate launch --multi_gpu --num_processes 4 train.py``;
run as a plain script it trains in one process, on the CPU with
``Accelerator(cpu=True)``.

Needs the ``accelerate`` extra: ``pip install "sk_digitsum[accelerate]"``.
"""

import inspect
import pickle

from skorch.hf import AccelerateMixin

from ._base import _DigitClassifierBase
from .estimators import DigitHeadsClassifier, DigitSumClassifier
from .persistence import saved_class


class _AcceleratedBase(AccelerateMixin, _DigitClassifierBase):
    """The estimators' base with skorch's AccelerateMixin, which hands device placement to the accelerator."""

    # Parameters of the accelerated training only: the safe format keeps the rest.
    _not_saved = ("accelerator", "device", "unwrap_after_train", "callbacks__print_log__sink")
    # accelerate rebuilds each DataLoader from its batch size, which a sampler of whole batches leaves None.
    _reads_whole_batches = False

    def __init__(self, *args, callbacks__print_log__sink=print, **kwargs):
        # skorch's PrintLog ignores verbose for any sink but print (the mixin's
        # default is the accelerator's): keep print, so verbose=0 stays silent.
        super().__init__(*args, callbacks__print_log__sink=callbacks__print_log__sink, **kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        # scikit-learn's repr and HTML repr show the parameters that differ from the
        # defaults in __init__'s signature: give each class the whole list.
        def __init__(self, *args, **params):
            _AcceleratedBase.__init__(self, *args, **params)

        __init__.__signature__ = _signature_with_accelerator(cls)
        cls.__init__ = __init__

    def _resolve_device(self):
        return str(self.accelerator.device)

    def initialize(self):
        # AccelerateMixin's initialize runs skorch's steps itself, without the base's: the device
        # and the seed of the weights are set here. skorch sees device=None and places nothing.
        self.device_ = self._resolve_device()
        with self._seeded(stage=0):
            return super().initialize()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        # accelerate means one Accelerator per process, so clones share the user's (its
        # __deepcopy__ returns the instance). Each prepare() registers the network, optimizer and
        # loaders in it: without this, a search would keep every network it trained alive there,
        # and the parameter would not be as it was before fit. free_memory() is accelerate's call
        # for this, "between two trainings with different models/optimizers"; our optimizer_ and
        # module_ stay usable for partial_fit.
        self.accelerator.free_memory()
        return self

    def _initialize_accelerator(self):
        # The losses have no weights, and DistributedDataParallel refuses to wrap
        # a module without any: keep them out of the accelerator's prepare().
        criterion, self.criterion_ = self.criterion_, None
        try:
            return super()._initialize_accelerator()
        finally:
            self.criterion_ = criterion

    def __getstate__(self):
        try:
            return super().__getstate__()
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise TypeError(
                f"A fitted {type(self).__name__} holds its Accelerator, which does not pickle. Keep the model "
                f"with clf.save(path) and load it with {saved_class(self).__name__}.load(path)."
            ) from error


def _signature_with_accelerator(cls):
    """The plain estimator's parameters, device left to the accelerator, and the accelerator's."""
    plain = next(base for base in cls.__mro__ if base in (DigitHeadsClassifier, DigitSumClassifier))
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [param for name, param in inspect.signature(plain.__init__).parameters.items()
              if name != "device" and param.kind is not param.VAR_KEYWORD]
    return inspect.Signature(params + [
        inspect.Parameter("accelerator", keyword),
        inspect.Parameter("device", keyword, default=None),
        inspect.Parameter("unwrap_after_train", keyword, default=True),
        inspect.Parameter("callbacks__print_log__sink", keyword, default=print),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ])


_DOC = """:class:`~sk_digitsum.{plain}` trained through Hugging Face Accelerate.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Decides the devices, processes and mixed precision.
    device : None, default=None
        Left to the accelerator.
    unwrap_after_train : bool, default=True
        Hand back the plain network after training (predicting and
        :meth:`save` use it); False keeps the accelerator's wrapper.
    **kwargs
        Any parameter of :class:`~sk_digitsum.{plain}`.

    See Also
    --------
    {other} : The same for the {other_kind} estimator.
"""


class AcceleratedDigitHeadsClassifier(_AcceleratedBase, DigitHeadsClassifier):
    __doc__ = _DOC.format(plain="DigitHeadsClassifier", other="AcceleratedDigitSumClassifier",
                          other_kind="direct-sum") + """
    Examples
    --------
    >>> from accelerate import Accelerator
    >>> from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=256, random_state=0)
    >>> clf = AcceleratedDigitHeadsClassifier(accelerator=Accelerator(cpu=True), max_epochs=1, verbose=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """


class AcceleratedDigitSumClassifier(_AcceleratedBase, DigitSumClassifier):
    __doc__ = _DOC.format(plain="DigitSumClassifier", other="AcceleratedDigitHeadsClassifier",
                          other_kind="digit-heads")
