"""Every convention for generated names, in one place.

The adjoint of ``x`` is ``x_bar``; its tangent ``x_dot``; the tape that saves ``x`` across
loop iterations ``x_tape``. AD passes write these into ``Value.hint``; backends only read
hints and make them unique.
"""

from __future__ import annotations

ADJOINT_SUFFIX = "_bar"
TANGENT_SUFFIX = "_dot"
TAPE_SUFFIX = "_tape"


def adjoint(hint: str | None) -> str | None:
    return None if hint is None else hint + ADJOINT_SUFFIX


def tangent(hint: str | None) -> str | None:
    return None if hint is None else hint + TANGENT_SUFFIX


def tape(hint: str | None) -> str:
    return (hint or "t") + TAPE_SUFFIX


def snapshot(hint: str | None) -> str:
    """The stack of snapshots of a loop-carried value (binomial checkpointing)."""
    return (hint or "state") + "_snapshots"


def derivative_function(kind: str, name: str) -> str:
    """``grad_loss``, ``vjp_f``, ``jvp_f``..."""
    return f"{kind}_{name}"
