# mistake: copies the tutorial's x = torch.tensor(1.0) into scalar_square_grad, ignoring x0
# caught-by: test_scalar_square_grad_values
# hint: shape_example_answer
import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor(1.0, requires_grad=True)  # MISTAKE: the tutorial's point, not x0
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**2).mean().backward()
    return x.grad


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    f(x).mean().backward()
    return x.grad
