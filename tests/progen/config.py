"""Which language features the random program generator may use.

Every feature of the DESIGN.md subset that the generator knows about is one boolean field
of :class:`ProgramConfig`, so a test can restrict the generated programs to what a mode or
backend supports (``ProgramConfig().without("while_loops", "helpers")``, or
``ProgramConfig.only("scalar_math", "if_else")``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: Names of all boolean feature flags, in declaration order.
FEATURES: tuple[str, ...] = (
    "scalar_math",
    "math_module",
    "arrays",
    "matrices",
    "broadcasting",
    "reductions",
    "axis_reductions",
    "max_min_reductions",
    "matmul",
    "where",
    "builtins_minmax_abs",
    "if_else",
    "ternary",
    "bool_ops",
    "for_loops",
    "nested_loops",
    "while_loops",
    "for_over_array",
    "break_continue",
    "early_return",
    "indexing",
    "slicing",
    "array_writes",
    "constructors",
    "reshape_stack",
    "helpers",
    "nested_helpers",
    "default_args",
    "tuples",
    "aug_assign",
    "int_param",
    "int_float_mix",
    "module_constants",
    "misc_statements",
    "masks",
)


@dataclass(frozen=True, repr=False)
class ProgramConfig:
    """Feature switches and size limits of generated programs.

    Feature flags (all on by default):

    - ``scalar_math``: ``+ - * / **`` and ``np.*`` unary functions on float scalars.
    - ``math_module``: ``math.sin`` & co. on scalars.
    - ``arrays``: 1-d float64 array parameters and elementwise array arithmetic.
    - ``matrices``: 2-d float64 array parameters (needs ``arrays``).
    - ``broadcasting``: scalar/1-d/2-d operands mixed in one elementwise op.
    - ``reductions``: ``np.sum``, ``np.mean``, ``np.prod``, ``x.sum()`` (whole array).
    - ``axis_reductions``: reductions with ``axis=`` and ``keepdims=``.
    - ``max_min_reductions``: ``np.max``/``np.min``/``x.max()`` (kinks, checked for ties).
    - ``matmul``: ``np.dot``, ``@``, ``np.matmul``, ``x.dot(y)``, ``np.outer``, ``.T``.
    - ``where``: ``np.where``, ``np.maximum``, ``np.minimum``, ``np.clip``, ``np.abs``.
    - ``builtins_minmax_abs``: the builtins ``min``, ``max``, ``abs`` on scalars.
    - ``if_else``: ``if``/``elif``/``else`` on data-dependent and integer conditions.
    - ``ternary``: ``a if cond else b``.
    - ``bool_ops``: ``and``/``or``/``not`` and comparison chains in conditions.
    - ``for_loops``: ``for i in range(...)`` with loop-carried scalars and arrays.
    - ``nested_loops``: loops inside loops.
    - ``while_loops``: ``while`` with a counter (and optionally a data condition).
    - ``for_over_array``: ``for row in m`` / ``for xi in x``.
    - ``break_continue``: ``break`` / ``continue`` inside loops.
    - ``early_return``: ``return`` inside ``if`` and inside loops.
    - ``indexing``: element and row reads ``x[i]``, ``m[i, j]``, ``m[i]``, ``m[:, j]``.
    - ``slicing``: slice reads ``x[1:]``, ``x[:-1]``, ``m[1:, :]``.
    - ``array_writes``: ``y[i] = ...``, ``y[i] += ...``, slice writes, into fresh arrays.
    - ``constructors``: ``np.zeros``, ``np.ones``, ``np.full``, ``np.zeros_like``,
      ``x.copy()``, ``np.eye``, ``np.arange``.
    - ``reshape_stack``: ``reshape``, ``np.transpose``, ``np.concatenate``, ``np.stack``.
    - ``helpers``: calls to helper functions defined in the same file.
    - ``nested_helpers``: helpers that call other helpers.
    - ``default_args``: helper parameters with defaults, keyword arguments at calls.
    - ``tuples``: tuple unpacking, tuple-returning helpers, swaps.
    - ``aug_assign``: ``+=``, ``-=``, ``*=`` on scalars and arrays.
    - ``int_param``: an ``int`` parameter ``n`` used as a trip count and in arithmetic.
    - ``int_float_mix``: loop indices and ints mixed into float arithmetic.
    - ``module_constants``: module-level float constants used in the function.
    - ``misc_statements``: docstrings, ``pass``, ``assert`` on ints.
    - ``masks``: boolean masks: ``np.sum(a[c > t])``, ``buf[c < t] = ...`` and ``+=``.
    """

    scalar_math: bool = True
    math_module: bool = True
    arrays: bool = True
    matrices: bool = True
    broadcasting: bool = True
    reductions: bool = True
    axis_reductions: bool = True
    max_min_reductions: bool = True
    matmul: bool = True
    where: bool = True
    builtins_minmax_abs: bool = True
    if_else: bool = True
    ternary: bool = True
    bool_ops: bool = True
    for_loops: bool = True
    nested_loops: bool = True
    while_loops: bool = True
    for_over_array: bool = True
    break_continue: bool = True
    early_return: bool = True
    indexing: bool = True
    slicing: bool = True
    array_writes: bool = True
    constructors: bool = True
    reshape_stack: bool = True
    helpers: bool = True
    nested_helpers: bool = True
    default_args: bool = True
    tuples: bool = True
    aug_assign: bool = True
    int_param: bool = True
    int_float_mix: bool = True
    module_constants: bool = True
    misc_statements: bool = True
    masks: bool = True

    #: Statements in the entry function's top-level block (before the final return).
    min_statements: int = 3
    max_statements: int = 7
    #: Statements in a loop body or branch.
    max_block_statements: int = 3
    #: Maximum nesting of compound statements (if/for/while).
    max_nesting: int = 3
    #: Rough limit on statements per function (past it only simple ones are added).
    max_lines: int = 16
    #: Maximum expression depth.
    max_expr_depth: int = 3
    #: Number of helper functions (upper bound).
    max_helpers: int = 2

    def enabled(self, feature: str) -> bool:
        """Whether ``feature`` is on, taking dependencies between features into account."""
        if not getattr(self, feature):
            return False
        needs = _DEPENDS.get(feature, ())
        return all(self.enabled(dep) for dep in needs)

    def without(self, *features: str) -> ProgramConfig:
        """A copy with the given features switched off."""
        _check_names(features)
        return dataclasses.replace(self, **{name: False for name in features})

    def with_(self, **changes: bool | int) -> ProgramConfig:
        """A copy with fields replaced (features or limits)."""
        _check_names(tuple(k for k in changes if k in FEATURES or not hasattr(self, k)))
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def only(cls, *features: str) -> ProgramConfig:
        """A config with exactly the given features on (plus nothing they depend on)."""
        _check_names(features)
        return cls(**{name: (name in features) for name in FEATURES})

    @classmethod
    def scalar_only(cls) -> ProgramConfig:
        """Float-scalar programs with all control flow (no arrays at all)."""
        return cls().without("arrays")

    @classmethod
    def straight_line(cls) -> ProgramConfig:
        """No control flow and no helpers: a single basic block."""
        return cls().without(
            "if_else",
            "ternary",
            "for_loops",
            "while_loops",
            "for_over_array",
            "helpers",
            "early_return",
            "break_continue",
        )

    def __repr__(self) -> str:
        """Only the fields that differ from the defaults: ``ProgramConfig(while_loops=False)``."""
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"ProgramConfig({', '.join(changed)})"

    def summary(self) -> str:
        """A short description: the features that are off, and the limits."""
        off = [name for name in FEATURES if not self.enabled(name)]
        return f"ProgramConfig(off={off}, max_statements={self.max_statements})"


#: Features that only make sense when others are on.
_DEPENDS: dict[str, tuple[str, ...]] = {
    "matrices": ("arrays",),
    "broadcasting": ("arrays",),
    "reductions": ("arrays",),
    "axis_reductions": ("reductions", "matrices"),
    "max_min_reductions": ("reductions",),
    "matmul": ("arrays",),
    "where": ("arrays",),
    "ternary": ("if_else",),
    "for_over_array": ("for_loops", "arrays"),
    "indexing": ("arrays",),
    "slicing": ("arrays",),
    "array_writes": ("arrays", "constructors"),
    "constructors": ("arrays",),
    "reshape_stack": ("arrays",),
    "nested_helpers": ("helpers",),
    "default_args": ("helpers",),
}


def _check_names(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"unknown generator features: {unknown}; known: {FEATURES}")
