"""
GridSearchCV over the EMA factor and the backbone depth
=======================================================

The results come as a table. Two-digit images keep the search quick; every parameter of the estimators,
skorch's double-underscore ones included, can be searched the same way.
"""

import os

import numpy as np
from sklearn.model_selection import GridSearchCV

from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=120 if FAST else 3000, n_digits=2, random_state=0)
search = GridSearchCV(
    DigitHeadsClassifier(n_digits=2, max_epochs=1 if FAST else 6, random_state=0, verbose=0),
    {"ema_beta": [0.9, 0.99], "depth": [3, 6]},
    cv=2, n_jobs=2,
)
search.fit(X, y)

results = search.cv_results_
print(f"{'ema_beta':>8} {'depth':>5} {'mean acc':>9} {'std':>6} {'rank':>4}")
for order in np.argsort(results["rank_test_score"]):
    params = results["params"][order]
    print(f"{params['ema_beta']:>8} {params['depth']:>5} {results['mean_test_score'][order]:>9.3f} "
          f"{results['std_test_score'][order]:>6.3f} {results['rank_test_score'][order]:>4}")
print("best:", search.best_params_)
