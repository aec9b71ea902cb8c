# mistake: switches off requires_grad on the input x itself, which changes the caller's tensor
# caught-by: test_square_no_grad_result
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    x.requires_grad_(False)  # MISTAKE: x must stay unchanged
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
