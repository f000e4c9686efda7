"""Lazy access to the optional peers; each raises ImportError when not installed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any


def autograd() -> tuple[ModuleType, ModuleType]:
    """HIPS autograd and its ``autograd.numpy``."""
    import autograd as ag
    import autograd.numpy as anp

    return ag, anp


def jax() -> tuple[ModuleType, ModuleType, ModuleType]:
    """JAX in float64 mode (the default float32 would not be a fair comparison)."""
    import jax as jx

    jx.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    return jx, jnp, lax


def torch() -> ModuleType:
    import torch as th

    return th


@functools.cache
def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit(fn)``, made once per function (compiled lazily at the first call)."""
    import numba

    return numba.njit(fn)
