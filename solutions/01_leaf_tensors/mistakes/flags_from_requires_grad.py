# mistake: reports requires_grad instead of is_leaf, confusing "tracked by autograd" with "leaf of the graph"
# caught-by: test_leaf_flags_graph
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.requires_grad for t in tensors]  # MISTAKE: wrong attribute
