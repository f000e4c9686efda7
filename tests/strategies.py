"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@st.composite
def stacks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two operands of matmul, one of rank 3 or more: batch axes that broadcast (some of
    length 1 or missing), or a vector on either side."""
    n, m, k = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    mask = draw(st.lists(st.booleans(), min_size=len(batch), max_size=len(batch)))
    other = tuple(1 if keep else d for d, keep in zip(batch, mask))[draw(st.integers(0, len(batch))) :]
    left, right = (batch, other) if draw(st.booleans()) else (other, batch)
    a_shape = (m,) if draw(st.booleans()) and not left else (*left, n, m)
    b_shape = (m,) if draw(st.booleans()) and not right and len(a_shape) > 2 else (*right, m, k)
    elements = st.floats(-2, 2)
    return (
        draw(hnp.arrays(np.float64, a_shape, elements=elements)),
        draw(hnp.arrays(np.float64, b_shape, elements=elements)),
    )
