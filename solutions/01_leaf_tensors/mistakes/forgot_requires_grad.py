# mistake: builds a float tensor but never asks autograd to track it
# caught-by: test_make_leaf_requires_grad
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    # MISTAKE: requires_grad is left at its default, False
    return torch.tensor(values, dtype=torch.float32)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
