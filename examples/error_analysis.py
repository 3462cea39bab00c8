"""
Which images does the model misread?
====================================

A grid of errors, saved as errors.png.

.. image:: /_static/examples/errors.png
   :alt: misread images with the digits read and the true sum
"""

# sphinx_gallery_thumbnail_path = '_static/examples/errors.png'

import os

import matplotlib

matplotlib.use("Agg")

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank  # noqa: E402
from sk_digitsum.plotting import plot_errors  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

train_bank, test_bank = split_digit_bank(*load_digit_bank())
X, y, _ = make_digit_sums(*train_bank, 300 if FAST else 6000, random_state=0)
X_test, y_test, digits_test = make_digit_sums(*test_bank, 1000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0, verbose=0).fit(X, y)
print(f"sum accuracy: {clf.score(X_test, y_test):.3f}")
fig = plot_errors(clf, X_test, digits_test, max_images=16)
fig.savefig("errors.png", dpi=90)
print("wrote errors.png")
