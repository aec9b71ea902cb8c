# mistake: builds the leaf in bfloat16, so the gradient keeps only 2-3 significant digits
# caught-by: test_mean_grad_values
# hint: cause_low_precision
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
    x = torch.tensor(values, dtype=torch.bfloat16, requires_grad=True)  # MISTAKE: bfloat16
    loss = f(x).mean()
    loss.backward()
    return x.grad
