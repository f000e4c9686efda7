"""adcompiler's benchmarks: ``python -m benchmarks --help``. See docs/benchmarks.md."""
