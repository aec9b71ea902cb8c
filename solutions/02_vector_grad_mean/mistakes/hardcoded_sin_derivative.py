# mistake: uses the derivative of the example function sin (cos(x) / n) instead of differentiating f with autograd
# caught-by: test_mean_grad_any_function
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = (x**2).mean()
    loss.backward()
    return x.grad


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32)
    # MISTAKE: only right when f is torch.sin
    return torch.cos(x) / len(values)
