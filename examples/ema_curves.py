"""
Training curves with and without EMA
====================================

The original report's observation: with a constant learning rate, validation
accuracy jumps from epoch to epoch; an exponential moving average (EMA) of the
weights smooths it. Here a DigitHeadsClassifier trains with AdamW at a constant
3e-3 (no schedule, no gradient clipping), once with ``ema_beta=None`` and once
with the default ``ema_beta=0.99``, and is validated after every epoch on
images of new writers' digits.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py ema_curves``):

.. literalinclude:: /_static/examples/ema_curves.txt
   :language: none

.. image:: /_static/examples/ema_curves.png
   :alt: validation sum accuracy per epoch, with and without EMA
"""

# sphinx_gallery_thumbnail_path = '_static/examples/ema_curves.png'

import os

import matplotlib

matplotlib.use("Agg")
from skorch.dataset import Dataset  # noqa: E402
from skorch.helper import predefined_split  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402
from sk_digitsum.plotting import plot_history  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, y, _ = make_digit_sums(*load_digit_bank(), 200 if FAST else 6000, random_state=0)
new_writers = load_digit_bank(subset="test")
X_valid, y_valid, _ = make_digit_sums(*new_writers, 1000, random_state=1)
constant_rate = dict(callbacks__lr_scheduler=None, callbacks__gradient_clipping=None,
                     train_split=predefined_split(Dataset(X_valid, y_valid)),
                     max_epochs=3 if FAST else 15, random_state=0, verbose=0)
models = {
    "no EMA": DigitHeadsClassifier(ema_beta=None, **constant_rate).fit(X, y),
    "EMA 0.99": DigitHeadsClassifier(ema_beta=0.99, **constant_rate).fit(X, y),
}
for name, model in models.items():
    accuracies = model.history_[:, "valid_acc"]
    low, high = min(accuracies[2:]), max(accuracies[2:])
    print(f"{name:>8}: validation accuracy {low:.3f} to {high:.3f} from epoch 3 on, "
          f"{accuracies[-1]:.3f} at the end")
ax = plot_history(models, keys=("valid_acc",))
ax.set_ylim(0.9, 1.0)
ax.set_title("Validation sum accuracy, constant learning rate")
ax.figure.savefig("ema_curves.png", dpi=90)
print("wrote ema_curves.png")
