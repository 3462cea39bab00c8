"""Write the model files of sk_digitsum 0.3 that test_persistence.py loads.

Run with 0.3 on the path (git archive 8fea787 | tar -x -C old; PYTHONPATH=old):

    PYTHONPATH=old python tests/data/make_0.3_models.py
"""

from pathlib import Path

import joblib
import numpy as np

import sk_digitsum
from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

assert sk_digitsum.__version__ == "0.3.0", sk_digitsum.__version__
HERE = Path(__file__).resolve().parent
X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=32, random_state=0)
clf = DigitHeadsClassifier(depth=3, module__width=4, max_epochs=1, verbose=0, random_state=0).fit(X, y)
joblib.dump(clf, HERE / "heads_0.3.joblib")
clf.save(HERE / "heads_0.3.pt")
np.save(HERE / "heads_0.3_proba.npy", clf.predict_proba(X))
