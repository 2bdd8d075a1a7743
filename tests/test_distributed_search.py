"""fastnn's estimators in scikit-learn's GridSearchCV on a Dask cluster, through joblib."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastnn.estimator import MLPClassifier  # noqa: E402

GRID = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-2]}


def search():
    return GridSearchCV(MLPClassifier(solver="adam", max_iter=40, random_state=0,
                                      backend="numpy"), GRID, cv=2, n_jobs=-1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_a_dask_cluster_matches_the_local_one():
    X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    local = search().fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            remote = search().fit(X, y)
        ran_on = client.run(lambda: 1)
    assert len(ran_on) == 2
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=0, atol=0)
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
