# mistake: forwards only the positional arguments to f and drops the keyword arguments
# caught-by: test_call_without_grad_result
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
        return f(*args)  # MISTAKE: **kwargs are lost


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
