"""
Data-parallel training on several GPUs with Hugging Face Accelerate
===================================================================

Launch on 4 GPUs of one machine::

    accelerate launch --multi_gpu --num_processes 4 examples/multi_gpu_accelerate.py

Each process trains on its share of every batch; gradients are averaged
between them. Run as a plain script, it trains in one process (on a GPU if
there is one). ``accelerate launch --cpu --num_processes 2`` runs two
processes on the CPU, which is how the tests check the multi-process path.
The main process saves the model and its training curve,
multi_gpu_accelerate.png.

.. rubric:: Output

Stored from a full run in one process on the CPU
(``python tools/gallery_outputs.py multi_gpu_accelerate``):

.. literalinclude:: /_static/examples/multi_gpu_accelerate.txt
   :language: none

.. image:: /_static/examples/multi_gpu_accelerate.png
   :alt: validation sum accuracy per epoch of the accelerated fit
"""

# sphinx_gallery_thumbnail_path = '_static/examples/multi_gpu_accelerate.png'

import os

from accelerate import Accelerator

from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

accelerator = Accelerator()
n_train, n_test = (400, 200) if FAST else (10_000, 2_000)
X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=n_train, random_state=0)
new_writers = load_digit_bank(subset="test")
X_test, y_test, _ = make_digit_sums(*new_writers, n_test, random_state=1)

clf = AcceleratedDigitHeadsClassifier(
    accelerator=accelerator, max_epochs=1 if FAST else 30, random_state=0,
    verbose=int(accelerator.is_main_process),  # one log, not one per process
)
clf.fit(X, y)
accuracy = clf.score(X_test, y_test)
if accelerator.is_main_process:
    import matplotlib

    matplotlib.use("Agg")
    from sk_digitsum.plotting import plot_history

    print(f"{accelerator.num_processes} process(es) on {accelerator.device}: "
          f"sum accuracy {accuracy:.2%} on images of new writers' digits")
    clf.save("digit_sums_accelerated.pt")  # load with DigitHeadsClassifier.load
    plot_history(clf).figure.savefig("multi_gpu_accelerate.png", dpi=90)
    print("wrote multi_gpu_accelerate.png")
