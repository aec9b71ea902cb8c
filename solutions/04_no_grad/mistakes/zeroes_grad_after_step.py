# mistake: also zeroes x.grad after the update, although the step must leave the gradient untouched
# caught-by: test_sgd_step_keeps_grad
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
        x -= lr * x.grad
    x.grad.zero_()  # MISTAKE: clearing the gradient is the caller's job
