# mistake: squares x.data instead of x, which cuts the graph so z.backward() cannot reach x
# caught-by: test_square_and_sum_backward
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    # MISTAKE: x.data is a view outside the graph
    y = x.data**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
