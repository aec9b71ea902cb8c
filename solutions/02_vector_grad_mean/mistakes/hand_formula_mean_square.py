# mistake: writes the derivative 2 * x / n by hand instead of letting autograd compute it
# caught-by: test_uses_autograd
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32)
    # MISTAKE: hand-derived gradient, no backward()
    return 2 * x / len(values)


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = f(x).mean()
    loss.backward()
    return x.grad
