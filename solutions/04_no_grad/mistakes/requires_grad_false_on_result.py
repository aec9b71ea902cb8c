# mistake: computes x ** 2 normally and then tries to switch requires_grad off on the result, which autograd forbids for a non-leaf
# caught-by: test_square_decorated_result
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


def square_decorated(x: Tensor) -> Tensor:
    y = x**2
    y.requires_grad_(False)  # MISTAKE: RuntimeError, y is not a leaf
    return y


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
