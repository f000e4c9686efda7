"""Hex digests naming cache entries (of source text, IR, array constants).

CPython's own BLAKE2 rather than ``hashlib``: importing ``hashlib`` loads OpenSSL, about
4 ms of a warm start whose whole budget is a few milliseconds. The digests only name files
of our caches, so the choice of hash is ours.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b as _blake2b  # CPython's built-in module, the one hashlib wraps
except ImportError:  # another Python
    from hashlib import blake2b as _blake2b


def digest(data: bytes) -> str:
    """A 256-bit digest of ``data``, as 64 hex digits."""
    return _blake2b(data, digest_size=32).hexdigest()
