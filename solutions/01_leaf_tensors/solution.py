"""Reference solution for exercise 01: leaf tensors and the autograd graph."""

import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    """Return a 1-D float32 leaf tensor holding ``values`` that requires grad."""
    # Choose the floating-point dtype while creating the tensor: ints cannot
    # require grad, and converting afterwards would produce a non-leaf.
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``(y, z)`` with ``y = x ** 2`` and ``z = y.sum()``, both in the graph."""
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    """Return, for every tensor, whether it is a leaf of the autograd graph."""
    return [t.is_leaf for t in tensors]
