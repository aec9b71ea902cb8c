# mistake: reduces with sum() instead of mean(), so the gradient is n times too large
# caught-by: test_mean_square_grad_values
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = (x**2).sum()  # MISTAKE: should be mean()
    loss.backward()
    return x.grad


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = f(x).mean()
    loss.backward()
    return x.grad
