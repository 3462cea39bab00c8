"""
Predict the sums of your own images
===================================

A folder of PNG files, read with Pillow. This example first writes a few
scans to ./my_scans (dark ink on white paper, as a scanner gives); point
``folder`` at your own instead. The images must all have one size, the size
the model was trained on. Training prints a line per epoch, with the epoch of
the fit's end and the time left.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py own_images``):

.. literalinclude:: /_static/examples/own_images.txt
   :language: none

.. image:: /_static/examples/own_images.png
   :alt: six scans with the sums read in them
"""

# sphinx_gallery_thumbnail_path = '_static/examples/own_images.png'

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402
from sk_digitsum.io import load_image_folder  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, y, _ = make_digit_sums(*load_digit_bank(), 300 if FAST else 5000, random_state=0)
clf = DigitHeadsClassifier(max_epochs=1 if FAST else 10, random_state=0).fit(X, y)

folder = Path("my_scans")
folder.mkdir(exist_ok=True)
scans, sums, _ = make_digit_sums(*load_digit_bank(subset="test"), 6, random_state=3)
for index, scan in enumerate(scans):
    # dark ink on white paper, as a scanner gives
    Image.fromarray(255 - scan).save(folder / f"scan_{index}.png")

X_mine, names = load_image_folder(folder)  # inverted back to light-on-dark
predicted = clf.predict(X_mine)
for name, total, true in zip(names, predicted, sums):
    print(f"{name}: predicted sum {total} (true {true})")

fig, axes = plt.subplots(3, 2, figsize=(6, 2.6))
for ax, name, total in zip(axes.flat, names, predicted):
    ax.imshow(Image.open(folder / name), cmap="gray")
    ax.set_title(f"{name}: sum {total}", fontsize=9)
    ax.axis("off")
fig.tight_layout()
fig.savefig("own_images.png", dpi=90)
print("wrote own_images.png")
