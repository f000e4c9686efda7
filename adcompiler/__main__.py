"""``python -m adcompiler`` and the ``adcompiler`` console script: see :mod:`adcompiler.cli`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
