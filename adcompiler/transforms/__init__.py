"""The transformations users call, as objects: the primal (:mod:`.base`), reverse-mode
derivatives (:mod:`.reverse`), forward-mode derivatives and Jacobians (:mod:`.forward`), and
the memory plan of a gradient (:mod:`.plan`)."""

from .base import Options, Primal, Transformed, WrtSpec, as_transformed
from .forward import ForwardDerivative, ReverseJacobian
from .plan import MemoryPlan
from .reverse import Derivative

__all__ = [
    "Derivative",
    "ForwardDerivative",
    "MemoryPlan",
    "Options",
    "Primal",
    "ReverseJacobian",
    "Transformed",
    "WrtSpec",
    "as_transformed",
]
