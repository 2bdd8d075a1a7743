"""pytest-benchmark: `forward` of the public MLP call, per backend x layer sizes x batch.

Validation and warm-up happen outside the timed region (``time_point`` in conftest.py).
"""

import pytest

from fastnn.bench.measure.suite import BACKENDS, BATCH_SIZES, LAYER_SIZES
from fastnn.bench.workload.cases import sizes_label


@pytest.mark.parametrize("batch_size", BATCH_SIZES, ids=lambda batch: f"x{batch}")
@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=sizes_label)
@pytest.mark.parametrize("backend", BACKENDS)
def test_forward(time_point, backend, layer_sizes, batch_size):
    time_point("forward", backend, layer_sizes, batch_size)
