"""fastnn.optimizers: the optimizer table and what is generated from it."""

import pickle

import numpy as np
import pytest
from conftest import BACKENDS

from fastnn import MLP
from fastnn.hyperparameters import HYPERPARAMETERS, TrainingOptions
from fastnn.optimizers import (
    OPTIMIZER_CODES,
    OPTIMIZER_SETTINGS,
    OPTIMIZERS,
    SETTING_CODES,
    adam_step_size,
    make_optimizer,
    optimizer_codes,
)
from fastnn.testing import TOLERANCE, relative_difference


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_in_the_table_trains_alike_on_every_backend(name, rng):
    """A new table entry joins automatically: the Numba epoch kernel must have its step."""
    X, y = rng.standard_normal((23, 4)), rng.integers(0, 3, 23)

    def fitted(backend):
        net = MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend=backend, seed=1)
        return net.fit(X, y, optimizer=name, learning_rate=0.05, epochs=3, batch_size=5,
                       alpha=0.01, seed=3)

    reference = fitted("numpy")
    for backend in BACKENDS:
        other = fitted(backend)
        assert relative_difference(other.flat_parameters, reference.flat_parameters) \
            <= TOLERANCE["float64"], backend


def test_optimizers_read_only_declared_hyperparameters():
    declared = {hyperparameter.name for hyperparameter in HYPERPARAMETERS}
    for optimizer in OPTIMIZERS.values():
        assert set(optimizer.hyperparameters) <= declared, optimizer.name
        assert "learning_rate" in optimizer.hyperparameters, optimizer.name


def test_the_codes_are_generated_from_the_table():
    assert list(OPTIMIZER_CODES) == list(OPTIMIZERS)
    assert sorted(OPTIMIZER_CODES.values()) == list(range(len(OPTIMIZERS)))
    read = {name for optimizer in OPTIMIZERS.values() for name in optimizer.hyperparameters}
    assert set(OPTIMIZER_SETTINGS) == read
    assert [SETTING_CODES[name] for name in OPTIMIZER_SETTINGS] == list(range(len(read)))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_settings_hold_each_hyperparameter_at_its_code(name):
    options = TrainingOptions(optimizer=name, learning_rate=0.25, momentum=0.5, nesterov=True,
                              beta_1=0.8, beta_2=0.95, epsilon=1e-6)
    optimizer = make_optimizer(options, 4, "float64")
    settings = optimizer.settings()
    assert settings.dtype == np.float64 and settings.shape == (len(OPTIMIZER_SETTINGS),)
    for setting, code in SETTING_CODES.items():
        expected = float(getattr(options, setting)) \
            if setting in optimizer.hyperparameters else 0.0
        assert settings[code] == expected, setting


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_buffers_are_named_rows_of_one_array(name):
    optimizer = make_optimizer(TrainingOptions(optimizer=name), 5, "float32")
    assert optimizer.state.shape == (len(optimizer.state_buffers), 5)
    assert optimizer.state.dtype == np.float32 and not optimizer.state.any()
    for row, buffer in enumerate(optimizer.state_buffers):
        assert np.shares_memory(getattr(optimizer, buffer), optimizer.state[row])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_pickled_optimizer_keeps_stepping_its_own_state(name, rng):
    """The estimators keep their optimizer between partial_fit calls, pickles included."""
    optimizer = make_optimizer(TrainingOptions(optimizer=name, learning_rate=0.1), 6, "float64")
    params, grads = rng.standard_normal(6), rng.standard_normal((2, 6))
    optimizer.step(params, grads[0])
    copy, copied_params = pickle.loads(pickle.dumps(optimizer)), params.copy()
    optimizer.step(params, grads[1])
    copy.step(copied_params, grads[1])
    np.testing.assert_array_equal(copied_params, params)
    np.testing.assert_array_equal(copy.state, optimizer.state)
    for row, buffer in enumerate(copy.state_buffers):
        assert np.shares_memory(getattr(copy, buffer), copy.state[row])


def test_optimizer_codes_check_a_compiled_module_against_the_table():
    assert optimizer_codes(list(reversed(OPTIMIZERS)), "kernels") == OPTIMIZER_CODES
    with pytest.raises(ImportError, match=r"kernels implements the optimizer steps \['adam', "
                                          r"'sgd'\]; the table of fastnn.optimizers has"):
        optimizer_codes(["sgd", "adam"], "kernels")
    with pytest.raises(ImportError, match="'rmsprop'"):
        optimizer_codes([*OPTIMIZERS, "rmsprop"], "kernels")


def test_the_adam_step_size_compiles_as_it_is():
    """One formula for Python and Numba: numba.njit takes the Python function itself."""
    numba = pytest.importorskip("numba")
    compiled = numba.njit(adam_step_size)
    for step_count in (1, 2, 10, 1000):
        assert compiled(0.01, 0.9, 0.999, step_count) == pytest.approx(
            adam_step_size(0.01, 0.9, 0.999, step_count), rel=1e-15)
