"""pytest-benchmark: every op of the public MLP call (the table in fastnn/ops.py), per
backend x layer sizes x batch.

Validation and warm-up happen outside the timed region (``time_point`` in conftest.py).
Each benchmark's group is ``"<op> <layer sizes> x<batch>"`` and its ``extra_info`` names
the case, which ``fastnn report`` reads.
"""

import pytest

from fastnn.bench.measure.suite import BACKENDS, BATCH_SIZES, LAYER_SIZES
from fastnn.bench.workload.cases import sizes_label
from fastnn.ops import OPS


@pytest.mark.parametrize("batch_size", BATCH_SIZES, ids=lambda batch: f"x{batch}")
@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=sizes_label)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", OPS)
def test_op(time_point, op, backend, layer_sizes, batch_size):
    time_point(op, backend, layer_sizes, batch_size)
