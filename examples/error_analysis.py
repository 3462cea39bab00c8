"""Which images does the model misread? A grid of errors, saved as errors.png."""

import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402
from sk_digitsum.plotting import plot_errors  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

images, labels = load_digit_bank()
held_out = np.arange(len(labels)) % 5 == 0
X, y, _ = make_digit_sums(images[~held_out], labels[~held_out], 300 if FAST else 6000, random_state=0)
X_test, y_test, digits_test = make_digit_sums(images[held_out], labels[held_out], 1000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0, verbose=0).fit(X, y)
print(f"sum accuracy: {clf.score(X_test, y_test):.3f}")
fig = plot_errors(clf, X_test, digits_test, max_images=16)
fig.savefig("errors.png", dpi=90)
print("wrote errors.png")
