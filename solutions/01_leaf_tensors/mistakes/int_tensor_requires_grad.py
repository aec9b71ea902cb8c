# mistake: creates the tensor straight from the values, so a list of ints gives an integer tensor that cannot require grad
# caught-by: test_make_leaf_accepts_ints
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    # MISTAKE: no dtype, [1, 2, 3] becomes int64 and requires_grad=True raises
    return torch.tensor(values, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
