"""
Which images does the model misread?
====================================

A grid of the test images a DigitHeadsClassifier reads wrong, with the digits
it read and the true ones, saved as errors.png. The test images are of new
writers' digits: MNIST's test set, which ships with the package.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py error_analysis``):

.. literalinclude:: /_static/examples/error_analysis.txt
   :language: none

.. image:: /_static/examples/errors.png
   :alt: misread images with the digits read and the true sum
"""

# sphinx_gallery_thumbnail_path = '_static/examples/errors.png'

import os

import matplotlib

matplotlib.use("Agg")

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402
from sk_digitsum.plotting import plot_errors  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, y, _ = make_digit_sums(*load_digit_bank(), 300 if FAST else 6000, random_state=0)
new_writers = load_digit_bank(subset="test")
X_test, y_test, digits_test = make_digit_sums(*new_writers, 2000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0, verbose=0)
clf.fit(X, y)
print(f"sum accuracy: {clf.score(X_test, y_test):.3f}")
fig = plot_errors(clf, X_test, digits_test, max_images=16)
fig.savefig("errors.png", dpi=90)
print("wrote errors.png")
