"""
Synthetic images alone, or mixed with real sum labels
=====================================================

The generator distorts bank digits (rotation, scale, shifts into the
neighbouring slot, stroke width, noise) and knows every digit, so it can
train the heads directly, alone or beside real sum-labelled images. Both are
scored on images of new writers' digits; the figure is saved as
synthetic_and_mixed.png.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py synthetic_and_mixed``):

.. literalinclude:: /_static/examples/synthetic_and_mixed.txt
   :language: none

.. image:: /_static/examples/synthetic_and_mixed.png
   :alt: sum accuracy of synthetic images alone and of real sums with synthetic images
"""

# sphinx_gallery_thumbnail_path = '_static/examples/synthetic_and_mixed.png'

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"
EPOCHS = 1 if FAST else 6

bank = load_digit_bank()
new_writers = load_digit_bank(subset="test")
X_test, y_test, _ = make_digit_sums(*new_writers, 1000, random_state=1)

generator = SyntheticDigitsGenerator(random_state=0).fit(*bank)
X_synthetic, _, digits = generator.sample(300 if FAST else 5000)
synthetic_only = DigitHeadsClassifier(max_epochs=EPOCHS, random_state=0, verbose=0)
synthetic_only.fit(X_synthetic, digits)
scores = {"synthetic only": synthetic_only.score(X_test, y_test)}
print(f"synthetic only:          {scores['synthetic only']:.3f}")

X_real, y_real, _ = make_digit_sums(*bank, 300 if FAST else 5000, random_state=0)
mixed = DigitHeadsClassifier(synthetic=generator, synthetic_weight=1.0,
                             max_epochs=EPOCHS, random_state=0, verbose=0)
mixed.fit(X_real, y_real)
scores["real sums + synthetic"] = mixed.score(X_test, y_test)
print(f"real sums + synthetic:   {scores['real sums + synthetic']:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 2.2), gridspec_kw={"width_ratios": [2, 1]})
axes[0].imshow(X_synthetic[0], cmap="gray")
read = "".join(map(str, digits[0]))
axes[0].set_title(f"a synthetic image: digits {read}", fontsize=9)
axes[0].axis("off")
axes[1].barh(list(scores), list(scores.values()), color="tab:orange")
axes[1].set_xlim(0, 1)
axes[1].set_xlabel("sum accuracy, new writers")
fig.tight_layout()
fig.savefig("synthetic_and_mixed.png", dpi=90)
print("wrote synthetic_and_mixed.png")
