"""
Quick start
===========

Fit, predict, score, save and load a DigitHeadsClassifier. It trains on
four-digit images labelled with their sum only, composed from the embedded
MNIST digits, and is scored on images of digits by writers it never saw
(MNIST's test set, which ships with the package). A small fit, run when the
documentation is built: the default one (``DigitHeadsClassifier()`` on 10,000
images, 30 epochs) reads about 97% of such sums.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, y, _ = make_digit_sums(*load_digit_bank(), 300 if FAST else 3000, random_state=0)
new_writers = load_digit_bank(subset="test")                   # 10,000 digits
X_test, y_test, _ = make_digit_sums(*new_writers, n_samples=1000, random_state=1)

# Small batches give a small set enough steps; the default, 128, suits 10,000 images.
clf = DigitHeadsClassifier(batch_size=32, max_epochs=1 if FAST else 6, random_state=0)
clf.fit(X, y)
print("predicted sums:", clf.predict(X_test[:8]), "true:", y_test[:8])
print(f"sum accuracy on new writers' digits: {clf.score(X_test, y_test):.3f}")

clf.save("digit_sums.pt")                   # the safe format: parameters and tensors
restored = DigitHeadsClassifier.load("digit_sums.pt")
assert (restored.predict(X_test) == clf.predict(X_test)).all()
print("saved and reloaded: digit_sums.pt")

# %%
# What it read in the first test images.
fig, axes = plt.subplots(4, 1, figsize=(4, 4.4))
for ax, image, digits, total in zip(axes, X_test, clf.predict_digits(X_test), y_test):
    ax.imshow(image, cmap="gray")
    read = "".join(map(str, digits))
    ax.set_title(f"read {read}, sum {digits.sum()} (true {total})", fontsize=9)
    ax.axis("off")
fig.tight_layout()
