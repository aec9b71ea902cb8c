# mistake: reads x.grad into a variable and then zeroes x.grad to tidy up, which zeroes the very tensor it returns
# caught-by: test_mean_square_grad_values
# hint: cause_zeroed_after_reading
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
    grad = x.grad
    x.grad.zero_()  # MISTAKE: grad is the same tensor, now all zeros
    return grad


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = f(x).mean()
    loss.backward()
    return x.grad
