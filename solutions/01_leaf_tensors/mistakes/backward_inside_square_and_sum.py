# mistake: calls z.backward() inside square_and_sum, which the task leaves to the caller, so the graph of the returned z is already freed
# caught-by: test_square_and_sum_backward
# hint: square_and_sum_called_backward
import torch
from torch import Tensor


def make_leaf(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def square_and_sum(x: Tensor) -> tuple[Tensor, Tensor]:
    y = x**2
    z = y.sum()
    z.backward()
    return y, z


def leaf_flags(tensors) -> list[bool]:
    return [t.is_leaf for t in tensors]
