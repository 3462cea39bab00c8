"""Hyperparameter search on a real Dask cluster, through joblib's Dask backend."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sk_digitsum import DigitHeadsClassifier

# Starts Dask workers.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


def test_grid_search_runs_on_a_local_dask_cluster(small_data):
    X, y, _ = small_data
    grid = {"ema_beta": [0.9, 0.99], "depth": [3, 6]}
    estimator = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0, batch_size=16)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(estimator, grid, cv=2, n_jobs=-1).fit(X, y)
        executed = client.run(_executed_tasks)
    assert len(search.cv_results_["params"]) == 4
    assert len(executed) == 2 and all(count > 0 for count in executed.values()), executed
    local = GridSearchCV(estimator, grid, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


def _executed_tasks(dask_worker):
    return dask_worker.state.executed_count
