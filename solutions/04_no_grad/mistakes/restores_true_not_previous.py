# mistake: always switches grad mode back on afterwards instead of restoring the mode that was active before the call
# caught-by: test_call_without_grad_restores_previous_mode
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    torch.set_grad_enabled(False)
    try:
        return f(*args, **kwargs)
    finally:
        torch.set_grad_enabled(True)  # MISTAKE: the caller may have had it off


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
