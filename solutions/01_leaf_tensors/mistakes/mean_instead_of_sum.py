# mistake: reduces with mean() instead of sum(), so z has the wrong value and the gradient is divided by n
# caught-by: test_square_and_sum_values
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.mean()  # MISTAKE: the task asks for the sum
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
