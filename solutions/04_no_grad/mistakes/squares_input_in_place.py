# mistake: squares x itself in place to save memory and returns a copy, so the caller's x is squared as a side effect
# caught-by: test_square_decorated_result
# hint: cause_changed_argument
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    x **= 2  # MISTAKE: rewrites the caller's tensor
    return x.clone()


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
