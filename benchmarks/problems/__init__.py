"""The benchmark functions exactly as a user writes them: plain Python and NumPy.

Each lives in its own module so that adcompiler (which reads source with ``inspect``) sees
nothing but the user's code: ``numpy``, ``math`` and module-level constants.
"""
