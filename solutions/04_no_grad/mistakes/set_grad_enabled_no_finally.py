# mistake: turns grad mode off with torch.set_grad_enabled(False) and turns it back on after the call, so an exception in f leaves it off
# caught-by: test_call_without_grad_restores_on_error
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
    result = f(*args, **kwargs)
    torch.set_grad_enabled(True)  # MISTAKE: never reached if f raises
    return result


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
