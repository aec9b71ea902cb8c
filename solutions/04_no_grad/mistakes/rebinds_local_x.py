# mistake: writes x = x - lr * x.grad, which only rebinds the local name; the caller's tensor is never updated
# caught-by: test_sgd_step_updates_in_place
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
        x = x - lr * x.grad  # MISTAKE: a new tensor, not an in-place update
