"""
Predict the sums of your own images
===================================

A folder of PNG files, read with Pillow. This example first writes a few scans to ./my_scans (dark ink on white
paper, as a scanner gives); point ``folder`` at your own instead. Images
must all have one size, the size the model was trained on.
"""

import os
from pathlib import Path

from PIL import Image

from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank
from sk_digitsum.io import load_image_folder

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

train_bank, test_bank = split_digit_bank(*load_digit_bank())
X, y, _ = make_digit_sums(*train_bank, 300 if FAST else 5000, random_state=0)
clf = DigitHeadsClassifier(max_epochs=1 if FAST else 10, random_state=0, verbose=0).fit(X, y)

folder = Path("my_scans")
folder.mkdir(exist_ok=True)
scans, sums, _ = make_digit_sums(*test_bank, 6, random_state=3)
for index, scan in enumerate(scans):
    Image.fromarray(255 - scan).save(folder / f"scan_{index}.png")   # dark ink on white paper

X_mine, names = load_image_folder(folder)     # inverted back to light-on-dark automatically
for name, predicted, true in zip(names, clf.predict(X_mine), sums):
    print(f"{name}: predicted sum {predicted} (true {true})")
