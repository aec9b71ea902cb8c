# mistake: converts to float32 after creating the tensor with requires_grad, so the returned tensor is the output of an operation, not a leaf
# caught-by: test_make_leaf_is_leaf
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    # MISTAKE: .float() is recorded in the graph; the result is not a leaf
    return torch.tensor(values, dtype=torch.float64, requires_grad=True).float()


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
