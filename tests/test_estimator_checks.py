"""scikit-learn's estimator conformance suite on fastnn's estimators.

Every check passes; none is listed as an expected failure. (scikit-learn itself skips its
array-API checks unless SCIPY_ARRAY_API=1 is set.)
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastnn.estimator import MLPClassifier, MLPRegressor

# Small networks: the checks fit dozens of times on tiny data. The default backend is
# "auto" (numba where available); one classifier runs the NumPy path as well.
ESTIMATORS = [
    MLPClassifier(hidden_layer_sizes=(8,), random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", backend="numpy", random_state=0),
    MLPRegressor(hidden_layer_sizes=(32,), random_state=0),
]

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
