"""Reference solution for exercise 04: switching gradient tracking off."""

import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    """Return ``x ** 2`` computed inside a ``torch.no_grad()`` block."""
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    """Return ``x ** 2``; the decorator disables tracking for the whole body."""
    return x**2


def call_without_grad(f, *args, **kwargs):
    """Return ``f(*args, **kwargs)`` evaluated with gradient tracking disabled."""
    # The context manager restores the previous mode on exit, even on an exception.
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    """Update ``x`` in place by ``x -= lr * x.grad`` without recording it."""
    with torch.no_grad():
        x -= lr * x.grad
