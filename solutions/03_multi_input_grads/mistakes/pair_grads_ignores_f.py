# mistake: copies the worked example into pair_grads and never calls f
# caught-by: test_pair_grads_any_function
import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = a**2 + 7 * b
    z.backward()
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = (a**2 + 7 * b).sum()
    z.backward()
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = (a**2 + 7 * b).sum()  # MISTAKE: f is never used
    z.backward()
    return a.grad, b.grad
