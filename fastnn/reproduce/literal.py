"""Section 3: the tutorials' hand-checkable numbers, computed here and compared.

Each check records the tutorial's figure, this run's value and whether they agree to
the precision the tutorial prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn.functions import softmax
from fastnn.model import MLP
from fastnn.reproduce.datasets import TUTORIAL_A_INPUT, tutorial_a_example, tutorial_a_network
from fastnn.reproduce.tutorial_code import (
    descend_quartic,
    descend_sum_of_squares,
    looped_forward,
    vectorised_forward,
)

SOFTMAX_5_1_1 = (0.96466316, 0.01766842, 0.01766842)


@dataclass(frozen=True)
class Check:
    """One literal comparison.

    Attributes
    ----------
    name : str
    computed_by : str
    tutorial : str
        The tutorial's figure as it prints it.
    computed : str
        This run's value.
    passed : bool
    """

    name: str
    computed_by: str
    tutorial: str
    computed: str
    passed: bool


def run_checks(backend_names):
    """Every literal check, on every backend where a network computes it.

    Returns
    -------
    list of Check
    """
    checks = []
    x = np.array(TUTORIAL_A_INPUT)
    weights, biases = tutorial_a_example()
    for name in backend_names:
        net = tutorial_a_network(name)
        hidden = MLP([3, 3], activation="sigmoid", backend=name)
        hidden.set_params(net.weights[:1], net.biases[:1])
        checks.append(_agree_to_4_decimals("3-3-1 hidden outputs", f"{name} backend",
                                           [0.8909, 0.9677, 0.9909], hidden.forward(x)))
        checks.append(_agree_to_4_decimals("3-3-1 output", f"{name} backend", [0.8354],
                                           net.forward(x)))
    for label, function in (("tutorial's loop", looped_forward),
                            ("tutorial's vectorised code", vectorised_forward)):
        checks.append(_agree_to_4_decimals("3-3-1 output", label, [0.8354],
                                           function(3, x, weights, biases)))
    checks.append(_softmax_check("fastnn.functions.softmax", softmax(np.array([5.0, 1.0, 1.0]))))
    for name in backend_names:
        net = MLP([3, 3], activation="identity", output_activation="softmax",
                  loss="cross_entropy", backend=name)
        net.set_params([np.eye(3)], [np.zeros(3)])
        checks.append(_softmax_check(f"{name} backend (identity 3-3 + softmax)",
                                     net.forward([5.0, 1.0, 1.0])))
    minimum, steps = descend_quartic()
    checks.append(Check("gradient descent on x^4 - 3x^3 + 2 from x = 6, step 0.01, "
                        "precision 1e-5", f"tutorial A's loop ({steps} steps)", "2.249965",
                        f"{minimum:.6f}", f"{minimum:.6f}" == "2.249965"))
    point, value = descend_sum_of_squares()
    checks.append(Check("gradient descent on sum(x^2) from seed(0) rand(2, 1), step 0.01, "
                        "1000 steps", "tutorial B's loop", "f = 2.3e-18",
                        f"f = {value:.2g} at ({point[0, 0]:.2g}, {point[1, 0]:.2g})",
                        f"{value:.2g}" == "2.3e-18"))
    return checks


def _agree_to_4_decimals(name, computed_by, expected, values):
    """The tutorial prints 4 decimals, truncated (0.990987 shows as 0.9909)."""
    values = np.ravel(values)
    passed = bool(np.all(np.abs(values - np.asarray(expected)) < 1e-4))
    return Check(name, computed_by, ", ".join(f"{value:.4f}" for value in expected),
                 ", ".join(f"{value:.6f}" for value in values), passed)


def _softmax_check(computed_by, values):
    values = np.ravel(values)
    passed = bool(np.allclose(values, SOFTMAX_5_1_1, rtol=0, atol=5e-9))
    return Check("softmax([5, 1, 1])", computed_by, ", ".join(f"{v:.8f}" for v in SOFTMAX_5_1_1),
                 ", ".join(f"{value:.8f}" for value in values), passed)
