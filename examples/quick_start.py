"""
Quick start
===========

Fit, predict, score, save and load a DigitHeadsClassifier. It trains on
4-digit images labelled with their sum only, composed from the embedded
MNIST digits, and scores on images of digits it never saw.
"""

import os

import joblib

from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

train_bank, test_bank = split_digit_bank(*load_digit_bank())   # every fifth digit is kept for testing
X, y, _ = make_digit_sums(*train_bank, n_samples=300 if FAST else 6000, random_state=0)
X_test, y_test, _ = make_digit_sums(*test_bank, n_samples=1000, random_state=1)

clf = DigitHeadsClassifier(max_epochs=1 if FAST else 12, random_state=0)
clf.fit(X, y)
print("predicted sums:", clf.predict(X_test[:8]), "true:", y_test[:8])
print(f"sum accuracy on unseen digits: {clf.score(X_test, y_test):.3f}")

joblib.dump(clf, "digit_sums.joblib")                 # load only files you trust: pickles run code
restored = joblib.load("digit_sums.joblib")
assert (restored.predict(X_test) == clf.predict(X_test)).all()
print("saved and reloaded: digit_sums.joblib")
