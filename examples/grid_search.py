"""
GridSearchCV over the EMA factor and the backbone depth
=======================================================

Every parameter of the estimators, skorch's double-underscore ones included,
can be searched. Two-digit images keep the search quick; batches of 32 give
each fit enough steps for the EMA's warm-up (its factor reaches 0.9 after 80
steps, 0.99 after 890) to let the two factors differ. The results come as a
table and a figure, saved as grid_search.png.

.. rubric:: Output

Stored from a full run (``python tools/gallery_outputs.py grid_search``):

.. literalinclude:: /_static/examples/grid_search.txt
   :language: none

.. image:: /_static/examples/grid_search.png
   :alt: mean cross-validated sum accuracy for each EMA factor and depth
"""

# sphinx_gallery_thumbnail_path = '_static/examples/grid_search.png'

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"

n_images = 120 if FAST else 3000
X, y, _ = make_digit_sums(*load_digit_bank(), n_images, n_digits=2, random_state=0)
search = GridSearchCV(
    DigitHeadsClassifier(n_digits=2, batch_size=32, max_epochs=1 if FAST else 6,
                         random_state=0, verbose=0),
    {"ema_beta": [0.9, 0.99], "depth": [3, 6]},
    cv=2, n_jobs=2,
)
search.fit(X, y)

results = search.cv_results_
print(f"{'ema_beta':>8} {'depth':>5} {'mean acc':>9} {'std':>6} {'rank':>4}")
for order in np.argsort(results["rank_test_score"]):
    params = results["params"][order]
    mean, std = results["mean_test_score"][order], results["std_test_score"][order]
    print(f"{params['ema_beta']:>8} {params['depth']:>5} {mean:>9.3f} {std:>6.3f} "
          f"{results['rank_test_score'][order]:>4}")
print("best:", search.best_params_)

fig, ax = plt.subplots(figsize=(5, 3))
labels = [f"beta {p['ema_beta']}, depth {p['depth']}" for p in results["params"]]
ax.barh(labels, results["mean_test_score"], xerr=results["std_test_score"])
ax.set_xlim(max(0.0, results["mean_test_score"].min() - 0.1), 1.0)
ax.set_xlabel("mean sum accuracy (2 folds)")
fig.tight_layout()
fig.savefig("grid_search.png", dpi=90)
print("wrote grid_search.png")
