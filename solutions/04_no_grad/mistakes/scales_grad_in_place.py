# mistake: scales x.grad by lr in place before subtracting it, so the caller's gradient is changed as a side effect
# caught-by: test_sgd_step_keeps_grad
# hint: cause_changed_argument_grad
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x.grad.mul_(lr)  # MISTAKE: rewrites the caller's gradient
        x -= x.grad
