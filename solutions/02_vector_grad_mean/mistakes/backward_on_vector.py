# mistake: forgets the mean() and calls backward() on the element-wise result, which is not a scalar
# caught-by: test_mean_grad_values
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
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    y = f(x)
    y.backward()  # MISTAKE: grad can be implicitly created only for scalar outputs
    return x.grad
