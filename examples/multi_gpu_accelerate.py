"""
Data-parallel training on several GPUs with Hugging Face Accelerate
===================================================================

Launch on 4 GPUs of one machine::

    accelerate launch --multi_gpu --num_processes 4 examples/multi_gpu_accelerate.py

Each process trains on its share of every batch; gradients are averaged
between them. Run as a plain script, it trains in one process (on a GPU if
there is one). ``accelerate launch --cpu --num_processes 2`` runs two
processes on the CPU, which is how the tests check the multi-process path.
"""

import os

from accelerate import Accelerator

from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

accelerator = Accelerator()
train_bank, test_bank = split_digit_bank(*load_digit_bank())
X, y, _ = make_digit_sums(*train_bank, n_samples=400 if FAST else 10_000, random_state=0)
X_test, y_test, _ = make_digit_sums(*test_bank, n_samples=200 if FAST else 2_000, random_state=1)

clf = AcceleratedDigitHeadsClassifier(
    accelerator=accelerator, max_epochs=1 if FAST else 30, random_state=0,
    verbose=int(accelerator.is_main_process),  # one log, not one per process
)
clf.fit(X, y)
accuracy = clf.score(X_test, y_test)
if accelerator.is_main_process:
    print(f"{accelerator.num_processes} process(es) on {accelerator.device}: "
          f"sum accuracy {accuracy:.2%} on images of held-out digits")
    clf.save("digit_sums_accelerated.pt")  # load with DigitHeadsClassifier.load
