"""
Learn to read digits from sum labels alone, then look at the digits
===================================================================

No digit label is ever shown to the model: it sees images and their sums.
It still learns to read each digit, because the sum distribution it fits is
the exact convolution of the per-position digit distributions. The figure,
saved as sum_only_digits.png, shows how often each position is read right on
images of new writers' digits.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py sum_only_digits``):

.. literalinclude:: /_static/examples/sum_only_digits.txt
   :language: none

.. image:: /_static/examples/sum_only_digits.png
   :alt: digit accuracy at each of the four positions, learned from sums alone
"""

# sphinx_gallery_thumbnail_path = '_static/examples/sum_only_digits.png'

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, sums, _ = make_digit_sums(*load_digit_bank(), 300 if FAST else 6000, random_state=0)
new_writers = load_digit_bank(subset="test")
X_test, sums_test, digits_test = make_digit_sums(*new_writers, 1000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0, verbose=0)
clf.fit(X, sums)

read = clf.predict_digits(X_test)
per_position = (read == digits_test).mean(axis=0)
print("per-position digit accuracy:", np.round(per_position, 3))
print(f"sum accuracy: {clf.score(X_test, sums_test):.3f}")
probabilities = clf.predict_proba(X_test[:5])
for digits, guess, proba in zip(digits_test[:5], read[:5], probabilities):
    # predict_proba's columns are the sums seen in fit: classes_
    p_true_sum = dict(zip(clf.classes_, proba)).get(digits.sum(), 0.0)
    print(f"true {''.join(map(str, digits))}  read {''.join(map(str, guess))}  "
          f"P(sum={digits.sum()}) = {p_true_sum:.3f}")

fig, ax = plt.subplots(figsize=(5, 2.6))
ax.bar([f"position {i + 1}" for i in range(4)], per_position, color="tab:green")
ax.set_ylim(max(0.0, per_position.min() - 0.05), 1.0)
ax.set_ylabel("digits read right")
ax.set_title("Digits learned from sums alone")
fig.tight_layout()
fig.savefig("sum_only_digits.png", dpi=90)
print("wrote sum_only_digits.png")
