"""The few helpers that generated Python code imports.

Generated modules must run with nothing but NumPy, ``math`` and this module, so everything
here is small, dependency-free and stable: a module generated today keeps working.
"""

from __future__ import annotations

import numpy as np

from .errors import NumericError

__all__ = ["unbroadcast", "check_finite"]


def unbroadcast(x, shape):
    """Sum ``x`` down to ``shape``: the adjoint of NumPy broadcasting.

    ``shape`` is a tuple (``()`` for a scalar, which gives a Python float) or an int. When
    ``x`` already has the shape it is returned as it is: the common case costs nothing.
    """
    if isinstance(shape, int):
        shape = (shape,)
    x_shape = np.shape(x)
    if x_shape == tuple(shape):
        return float(x) if shape == () else x
    if shape == ():
        return float(np.sum(x))
    # leading axes that broadcasting added, then axes that were stretched from length 1
    lead = len(x_shape) - len(shape)
    summed = np.sum(x, axis=tuple(range(lead))) if lead > 0 else np.asarray(x)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    if stretched:
        summed = np.sum(summed, axis=stretched, keepdims=True)
    return summed


def check_finite(x, what: str) -> None:
    """Raise :class:`~adcompiler.errors.NumericError` naming ``what`` if ``x`` has a NaN or an infinity."""
    if not np.all(np.isfinite(x)):
        raise NumericError(what)
