"""Temporarily set torch's intra-op thread count (restored afterwards, also on errors)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``with torch_threads(1): ...`` runs the block with ``torch.set_num_threads(n)``; None leaves it."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
