"""adcompiler: a source-transformation automatic-differentiation compiler for Python.

import adcompiler as ad

@ad.grad
def loss(w, x, y): ...

print(loss.source)   # the generated gradient, as readable Python
"""

from .ad.checkpoint import MemoryBudget, Revolve
from .api import (
    checkpoint,
    get_num_threads,
    grad,
    hessian,
    jacobian,
    jit,
    jvp,
    set_num_threads,
    stop_gradient,
    value_and_grad,
    vjp,
    wait_for_compiles,
)
from .check import GradCheckError, check_grad
from .custom import custom_jvp, custom_vjp
from .errors import ADError, ADTypeError, NotDifferentiableError, NumericError, UnsupportedSyntaxError
from .graph import graph

__version__ = "0.1.0"

__all__ = [
    "ADError",
    "ADTypeError",
    "GradCheckError",
    "MemoryBudget",
    "Revolve",
    "NotDifferentiableError",
    "NumericError",
    "UnsupportedSyntaxError",
    "check_grad",
    "checkpoint",
    "custom_jvp",
    "custom_vjp",
    "get_num_threads",
    "grad",
    "graph",
    "hessian",
    "jacobian",
    "jit",
    "jvp",
    "set_num_threads",
    "stop_gradient",
    "value_and_grad",
    "vjp",
    "wait_for_compiles",
]
