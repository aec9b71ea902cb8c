# mistake: builds x as a one-element vector, so the gradient has shape (1,) instead of being a 0-dim tensor
# caught-by: test_scalar_square_grad_is_0dim
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor([x0], requires_grad=True)  # MISTAKE: brackets make it 1-D
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = (x**2).mean()
    loss.backward()
    return x.grad


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = f(x).mean()
    loss.backward()
    return x.grad
