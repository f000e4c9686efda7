"""The frontend: a Python function → untyped structured SSA IR (see ``parse.py``)."""

from .parse import parse_function

__all__ = ["parse_function"]
