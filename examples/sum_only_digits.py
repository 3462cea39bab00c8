"""
Learn to read digits from sum labels alone, then look at the digits
===================================================================

No digit label is ever shown to the model: it sees images and their sums.
Its heads still learn to read each digit, because the sum distribution it
fits is the exact convolution of the per-digit distributions.
"""

import os

import numpy as np

from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

train_bank, test_bank = split_digit_bank(*load_digit_bank())
X, sums, _ = make_digit_sums(*train_bank, 300 if FAST else 6000, random_state=0)
X_test, sums_test, digits_test = make_digit_sums(*test_bank, 1000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0, verbose=0).fit(X, sums)

read = clf.predict_digits(X_test)
print("per-position digit accuracy:", np.round((read == digits_test).mean(axis=0), 3))
print(f"sum accuracy: {clf.score(X_test, sums_test):.3f}")
for digits, guess, proba in zip(digits_test[:5], read[:5], clf.predict_proba(X_test[:5])):
    p_true_sum = dict(zip(clf.classes_, proba)).get(digits.sum(), 0.0)  # columns: the sums seen in fit
    print(f"true {''.join(map(str, digits))}  read {''.join(map(str, guess))}  "
          f"P(sum={digits.sum()}) = {p_true_sum:.3f}")
