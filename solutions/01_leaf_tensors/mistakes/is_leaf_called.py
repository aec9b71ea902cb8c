# mistake: calls is_leaf like a method, but it is a bool attribute, so the call raises TypeError
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
    return [t.is_leaf() for t in tensors]  # MISTAKE: is_leaf is not callable
