# mistake: believes only tensors that require grad can be leaves, so plain and detached tensors are reported as non-leaves
# caught-by: test_leaf_flags_without_grad
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    # MISTAKE: a tensor that does not require grad is also a leaf
    return [t.requires_grad and t.is_leaf for t in tensors]
