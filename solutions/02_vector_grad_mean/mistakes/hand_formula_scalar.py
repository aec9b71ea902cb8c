# mistake: returns 2 * x0 computed by hand instead of calling backward()
# caught-by: test_uses_autograd
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    # MISTAKE: the derivative of x**2 written out by hand
    return torch.tensor(2 * x0)


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
