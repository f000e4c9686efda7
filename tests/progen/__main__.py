"""Print a generated program: ``python -m progen SEED [--without FEATURE ...]``."""

from __future__ import annotations

import argparse

from .config import FEATURES, ProgramConfig
from .program import generate


def main() -> None:
    parser = argparse.ArgumentParser(prog="progen", description=__doc__)
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--without", nargs="*", default=[], choices=FEATURES)
    parser.add_argument("--only", nargs="*", default=None, choices=FEATURES)
    ns = parser.parse_args()
    config = ProgramConfig.only(*ns.only) if ns.only is not None else ProgramConfig()
    config = config.without(*ns.without)
    for seed in ns.seeds:
        print(generate(seed, config).describe())
        print()


if __name__ == "__main__":
    main()
